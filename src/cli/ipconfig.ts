/**
 * `9net ipconfig`: Plan 9's ip/ipconfig (sys/src/cmd/ip/ipconfig/main.c)
 * for a static address, through a served /net's ipifc and iproute:
 *
 *   ipconfig [-g GW] [-m MTU] [MEDIUM [DEVICE]] [add|remove|unbind] [LOCAL [MASK [REMOTE]]]
 *
 * MEDIUM defaults to ether, DEVICE to /net/ether0 (as the server names
 * it). add binds a new interface (`bind MEDIUM DEVICE` on ipifc/clone),
 * writes `add LOCAL MASK [REMOTE [MTU]]` (MASK defaults to the address's
 * class mask, libip defmask) or `mtu N`, and with -g a default route
 * `add 0 0 GW` to iproute, as ipconfig does for its primary interface.
 * remove writes `remove IP MASK` to each interface on DEVICE with that
 * address; unbind writes `unbind` to the interface on DEVICE. add without
 * LOCAL asks for the address by DHCP, as ipconfig does — through our
 * stack's ipifc verb `dhcp` (the server runs the DHCP client; a server
 * without it, e.g. the host backend, answers with an error).
 */
import type { Command } from 'commander';
import type { Client } from '../ninep/client.js';
import { ORDWR } from '../ninep/types.js';
import { clientOptions, connect, exit, intArg, message } from './common.js';
import type { ClientFlags } from './common.js';
import { servedPath } from './netcall.js';
import { readIpifc } from './readipifc.js';

interface IpconfigFlags extends ClientFlags {
  g?: string;
  m?: number;
  x?: string;
}

/** ipconfig.c's media (the verbs it takes for the type). */
const MEDIA = ['ether', 'gbe', 'ppp', 'loopback', 'torus', 'tree', 'pkt'];
const VERBS = ['add', 'remove', 'unbind'];

interface Conf {
  type: string;
  dev: string;
  action: string;
  laddr?: string;
  mask?: string;
  raddr?: string;
}

class UsageError extends Error {}

/** ipconfig.c parseargs: [medium [device]] [verb] [laddr [mask [raddr]]]. */
export function parseArgs(argv: string[]): Conf {
  const a = [...argv];
  const conf: Conf = { type: 'ether', dev: '/net/ether0', action: 'add' };
  if (a.length > 0 && MEDIA.includes(a[0]!)) {
    conf.type = a.shift()!;
    if (a.length > 0) conf.dev = a.shift()!;
    else if (conf.type === 'ppp') conf.dev = '/dev/eia0';
  }
  if (a.length > 0 && MEDIA.includes(a[0]!)) throw new UsageError(`medium ${conf.type} already specified`);
  if (a.length > 0 && VERBS.includes(a[0]!)) conf.action = a.shift()!;
  if (a.length > 3) throw new UsageError('too many arguments');
  [conf.laddr, conf.mask, conf.raddr] = a;
  if (conf.mask === '0') delete conf.mask;
  return conf;
}

/** libip defmask: the class mask of an IPv4 address. */
export function defmask(ip: string): string {
  const a = Number(ip.split('.')[0]);
  if (a < 128) return '255.0.0.0';
  if (a < 192) return '255.255.0.0';
  return '255.255.255.0';
}

/** A mask as the status file spells it (%M): dotted IPv4 masks become /96+N. */
export function maskText(m: string): string {
  if (m.startsWith('/')) return m;
  const b = m.split('.').map(Number);
  if (b.length !== 4 || b.some((x) => !Number.isInteger(x) || x < 0 || x > 255)) return m;
  const bits = b.map((x) => x.toString(2).padStart(8, '0')).join('');
  const ones = bits.indexOf('0') < 0 ? 32 : bits.indexOf('0');
  return /^1*0*$/.test(bits) ? `/${96 + ones}` : m;
}

/** Write one ctl message; a failure names the message and the file. */
async function ctl(c: Client, path: string, msg: string): Promise<void> {
  const f = await c.open(path, ORDWR).catch((e: unknown) => { throw new Error(`can't open ${path}: ${message(e)}`); });
  try {
    await f.write(msg).catch((e: unknown) => { throw new Error(`${path}: ${msg}: ${message(e)}`); });
  } finally {
    await f.close().catch(() => {});
  }
}

async function doadd(c: Client, mpoint: string, conf: Conf, o: IpconfigFlags): Promise<void> {
  const ipifc = servedPath(`${mpoint}/ipifc`);
  if (!(await c.stat(ipifc).then(() => true, () => false))) throw new Error(`no ip stack bound onto ${mpoint}`);
  // binddevice: a new interface on the medium, its ctl kept while configuring.
  const clone = `${ipifc}/clone`;
  const cfd = await c.open(clone, ORDWR).catch((e: unknown) => { throw new Error(`opening ${mpoint}/ipifc/clone: ${message(e)}`); });
  try {
    const bind = `bind ${conf.type} ${conf.dev}`;
    await cfd.write(bind).catch((e: unknown) => { throw new Error(`${mpoint}/ipifc/clone: ${bind}: ${message(e)}`); });
    if (!conf.laddr) {
      // No address: DHCP, by the server's client; the lease shows in /net/ndb when it comes.
      await cfd.write('dhcp').catch((e: unknown) => { throw new Error(`${mpoint}/ipifc/clone: dhcp: ${message(e)}`); });
      return;
    }
    // ip4cfg
    let add = `add ${conf.laddr} ${conf.mask ?? defmask(conf.laddr)}`;
    if (conf.raddr) add += ` ${conf.raddr}${o.m ? ` ${o.m}` : ''}`;
    await cfd.write(add).catch((e: unknown) => { throw new Error(`write(${add}): ${message(e)}`); });
    if (!conf.raddr && o.m) {
      const mtu = `mtu ${o.m}`;
      await cfd.write(mtu).catch((e: unknown) => { throw new Error(`write(${mtu}): ${message(e)}`); });
    }
  } finally {
    await cfd.close().catch(() => {});
  }
  if (o.g && conf.laddr) await ctl(c, servedPath(`${mpoint}/iproute`), `add 0 0 ${o.g}`);
}

async function doremove(c: Client, mpoint: string, conf: Conf): Promise<void> {
  if (!conf.laddr) throw new Error('remove requires an address');
  for (const ifc of await readIpifc(c, mpoint)) {
    if (ifc.dev !== conf.dev) continue;
    for (const l of ifc.lifcs) {
      if (l.ip !== conf.laddr) continue;
      if (conf.mask && maskText(conf.mask) !== l.mask) continue;
      if (conf.raddr && l.net !== conf.raddr) continue;
      await ctl(c, servedPath(`${mpoint}/ipifc/${ifc.index}/ctl`), `remove ${l.ip} ${l.mask}`);
    }
  }
}

async function dounbind(c: Client, mpoint: string, conf: Conf): Promise<void> {
  const ifc = (await readIpifc(c, mpoint)).find((i) => i.dev === conf.dev);
  if (ifc) await ctl(c, servedPath(`${mpoint}/ipifc/${ifc.index}/ctl`), 'unbind');
}

export function addIpconfig(program: Command): void {
  const cmd = program
    .command('ipconfig')
    .description('Plan 9\'s ip/ipconfig: bind an interface, add or remove an address (none: DHCP), unbind')
    .argument('[args...]', '[MEDIUM [DEVICE]] [add|remove|unbind] [LOCAL [MASK [REMOTE]]]');
  clientOptions(cmd)
    .option('-g <gateway>', 'with add: the default route through this gateway')
    .option('-m <mtu>', 'with add: the interface MTU', intArg(68, 65535))
    .option('-x <netmtpt>', 'the network directory on the server (default /net)')
    .action(async (args: string[], o: IpconfigFlags) => {
      let conf: Conf;
      try {
        conf = parseArgs(args);
      } catch (e) {
        console.error(`9net: ipconfig: ${message(e)}`);
        cmd.outputHelp({ error: true });
        return exit(1);
      }
      try {
        const c = await connect(o);
        const mpoint = o.x ?? '/net';
        if (conf.action === 'add') await doadd(c, mpoint, conf, o);
        else if (conf.action === 'remove') await doremove(c, mpoint, conf);
        else await dounbind(c, mpoint, conf);
        exit(0);
      } catch (e) {
        exit(1, `ipconfig: ${message(e)}`);
      }
    });
}
