/**
 * The host's interfaces as a read-only /net/ipifc: addresses from the OS,
 * packet counters from /sys/class/net, IP counters from /proc/net/snmp.
 */
import { readFileSync } from 'node:fs';
import { IP_STAT_NAMES, statsText } from '../../netfs/status.js';
import type { IfcView, IpifcSource } from '../../netfs/ipifc.js';
import type { HostInterfaces } from './interfaces.js';

function counter(dev: string, name: string): number {
  try {
    return Number(readFileSync(`/sys/class/net/${dev}/statistics/${name}`, 'utf8')) || 0;
  } catch {
    return 0;
  }
}

export class HostIpifc implements IpifcSource {
  constructor(private readonly ifcs: HostInterfaces) {}

  list(): IfcView[] {
    return this.ifcs.list().map((i, index) => ({
      index,
      device: i.name,
      maxtu: i.name === 'lo' ? i.mtu : i.mtu + 14,
      addrs: i.addrs.map((a) => ({ ip: a.ip, mask: a.mask, net: a.ip.map((b, k) => b & a.mask[k]!) })),
      pktin: counter(i.name, 'rx_packets'),
      pktout: counter(i.name, 'tx_packets'),
      errin: counter(i.name, 'rx_errors'),
      errout: counter(i.name, 'tx_errors'),
    }));
  }

  stats(): string {
    const values = new Map<string, string>();
    try {
      const lines = readFileSync('/proc/net/snmp', 'utf8').split('\n').filter((l) => l.startsWith('Ip: '));
      if (lines.length >= 2) {
        const names = lines[0]!.split(/\s+/).slice(1);
        const vals = lines[1]!.split(/\s+/).slice(1);
        names.forEach((n, k) => values.set(n, vals[k] ?? '0'));
      }
    } catch {
      // Not Linux: zeros.
    }
    return statsText(IP_STAT_NAMES, (n) => Number(values.get(n) ?? 0));
  }
}
