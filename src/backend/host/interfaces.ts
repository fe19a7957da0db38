/**
 * The host's interfaces and addresses, as the host backend's /net/ipifc
 * shows them and as its local-address checks use them.
 */
import { readFileSync } from 'node:fs';
import * as os from 'node:os';
import { fromNodeAddress, ipEqual, parseMask } from '../../netfs/ipaddr.js';
import type { Ip } from '../../netfs/ipaddr.js';

export interface IfcAddr {
  ip: Ip;
  mask: Ip;
}

export interface HostIfc {
  name: string;
  mtu: number;
  addrs: IfcAddr[];
}

export interface HostInterfaces {
  list(): HostIfc[];
  isLocal(ip: Ip): boolean;
}

/** MTU of a Linux interface from sysfs, or 1500. */
function mtuOf(name: string): number {
  try {
    return Number(readFileSync(`/sys/class/net/${name}/mtu`, 'utf8')) || 1500;
  } catch {
    return 1500;
  }
}

export class OsInterfaces implements HostInterfaces {
  list(): HostIfc[] {
    const out: HostIfc[] = [];
    for (const [name, infos] of Object.entries(os.networkInterfaces())) {
      const addrs: IfcAddr[] = [];
      for (const i of infos ?? []) {
        const ip = fromNodeAddress(i.address);
        const prefix = Number(i.cidr?.split('/')[1] ?? (i.family === 'IPv4' ? 32 : 128));
        const mask = parseMask(`/${prefix}`, i.family === 'IPv4');
        if (ip && mask) addrs.push({ ip, mask });
      }
      out.push({ name, mtu: mtuOf(name), addrs });
    }
    return out;
  }
  isLocal(ip: Ip): boolean {
    return this.list().some((i) => i.addrs.some((a) => ipEqual(a.ip, ip)));
  }
}
