/**
 * The control tree of a Topology, served under the attach name `topo`:
 *
 *   ctl     (0664, writes by eve) one command per write; a read returns the
 *           reply to the last command written on that fid (e.g. "ether1\n"
 *           after a connect), or nothing
 *   stacks  one line per stack:  NAME iprouting 0|1 ethers N
 *   hubs    one line per hub:    NAME ports N tap TAP|- forwarded N flooded N dropped N
 *   pairs   one line per pair:   NAME END0 END1  (a stack name, '-' free, '!' closed)
 *   links   one line per ether:  STACK etherN hub|pair SEGMENT MAC [A.B.C.D/N ...]
 *           and per TAP bridge:  tap TAPNAME hub HUB
 *
 * ctl commands (errors are one line, sent as the 9P error):
 *   stack NAME [manual]             make a stack (attachable by aname NAME at once); manual: in
 *                                   simulated time of its own, steered by its /net/clock
 *   hub NAME                        make a hub
 *   pair NAME                       make a point-to-point pair
 *   connect STACK HUB|PAIR          new etherN in STACK's /net on that segment; reply etherN
 *   ipconfig STACK etherN A.B.C.D/N [GW]   bind an ipifc, add the address, default route via GW
 *   iprouting STACK [0|1]           IP forwarding off/on (no argument = on)
 *   route STACK A.B.C.D/N VIA       add a gateway route
 *   bridge HUB TAPNAME              bridge the hub to a kernel TAP (auto: attach or create)
 *   unbridge HUB                    remove the hub's TAP bridge
 *   default STACK                   the stack served for aname '' (and 'net', '/')
 *   delete stack|hub|pair NAME      a hub or pair must have no stack connected
 */
import { NinepError, Eperm } from '../ninep/error.js';
import type { Node } from '../ninep/node.js';
import { ctlText, tokenize } from '../netfs/ctl.js';
import { SynthDir, SynthFile, snapshotText, textFile, wantsWrite } from '../ninep/synth.js';
import { QTDIR, QTFILE, qid } from '../ninep/types.js';
import type { Topology } from './topology.js';

/** Qid space of the control tree, above the /net parts' (tree.ts). */
export const QSPACE_TOPO = 8n << 40n;

/** Longest ctl command accepted. */
const MAX_CTL = 1024;

function usage(u: string): never {
  throw new NinepError(`usage: ${u}`);
}

/** Runs one ctl command; resolves to the reply text ('' for none). */
export async function topoCtl(t: Topology, f: string[]): Promise<string> {
  const n = f.length;
  switch (f[0]) {
    case 'stack':
      if (n !== 2 && !(n === 3 && f[2] === 'manual')) usage('stack NAME [manual]');
      t.addStack(f[1]!, n === 3);
      return '';
    case 'hub':
      if (n !== 2) usage('hub NAME');
      t.addHub(f[1]!);
      return '';
    case 'pair':
      if (n !== 2) usage('pair NAME');
      t.addPair(f[1]!);
      return '';
    case 'connect':
      if (n !== 3) usage('connect STACK HUB|PAIR');
      return `${t.connect(f[1]!, f[2]!)}\n`;
    case 'ipconfig':
      if (n !== 4 && n !== 5) usage('ipconfig STACK etherN A.B.C.D/N [GW]');
      t.configure(f[1]!, f[2]!, f[3]!, f[4]);
      return '';
    case 'iprouting':
      if (n !== 2 && n !== 3) usage('iprouting STACK [0|1]');
      if (n === 3 && f[2] !== '0' && f[2] !== '1') usage('iprouting STACK [0|1]');
      t.forwarding(f[1]!, n === 2 || f[2] === '1');
      return '';
    case 'route':
      if (n !== 4) usage('route STACK A.B.C.D/N VIA');
      t.route(f[1]!, f[2]!, f[3]!);
      return '';
    case 'bridge':
      if (n !== 3) usage('bridge HUB TAPNAME');
      t.bridgeToTap(f[1]!, f[2]!);
      return '';
    case 'unbridge':
      if (n !== 2) usage('unbridge HUB');
      await t.unbridge(f[1]!);
      return '';
    case 'default':
      if (n !== 2) usage('default STACK');
      t.setDefault(f[1]!);
      return '';
    case 'delete':
      if (n !== 3) usage('delete stack|hub|pair NAME');
      switch (f[1]) {
        case 'stack': await t.deleteStack(f[2]!); return '';
        case 'hub': await t.deleteHub(f[2]!); return '';
        case 'pair': await t.deletePair(f[2]!); return '';
        default: usage('delete stack|hub|pair NAME');
      }
    case undefined:
      throw new NinepError('short control request');
    default:
      throw new NinepError(`unknown topology command ${f[0]}`);
  }
}

export function stacksText(t: Topology): string {
  return t.stackInfo().map((s) => `${s.name} iprouting ${s.forwarding ? 1 : 0} ethers ${s.ethers.length}\n`).join('');
}

export function hubsText(t: Topology): string {
  return t.hubInfo()
    .map((h) => `${h.name} ports ${h.ports} tap ${h.tap ?? '-'} forwarded ${h.forwarded} flooded ${h.flooded} dropped ${h.dropped}\n`)
    .join('');
}

export function pairsText(t: Topology): string {
  return t.pairInfo().map((p) => `${p.name} ${p.ends[0]} ${p.ends[1]}\n`).join('');
}

export function linksText(t: Topology): string {
  let out = '';
  for (const s of t.stackInfo()) {
    for (const e of s.ethers) out += `${[s.name, e.ether, e.kind, e.segment, e.mac, ...e.addresses].join(' ')}\n`;
  }
  for (const h of t.hubInfo()) if (h.tap) out += `tap ${h.tap} hub ${h.name}\n`;
  return out;
}

/** The control tree's root directory. */
export function controlTree(t: Topology, eve: string): Node {
  const info = (name: string, mode: number) => () => ({ name, uid: eve, gid: eve, mode });
  const ctl = new SynthFile(qid(QTFILE, QSPACE_TOPO | 1n), info('ctl', 0o664), (req) => {
    if (wantsWrite(req.mode) && req.user !== eve) throw new NinepError(Eperm);
    let reply = '';
    const snap = snapshotText(() => reply);
    return {
      read: snap.read!,
      write: async (_o, data) => {
        if (data.length > MAX_CTL) throw new NinepError('ctl message too long');
        reply = await topoCtl(t, tokenize(ctlText(data)));
        return data.length;
      },
    };
  });
  const files: Node[] = [
    ctl,
    textFile(qid(QTFILE, QSPACE_TOPO | 2n), info('stacks', 0o444), () => stacksText(t)),
    textFile(qid(QTFILE, QSPACE_TOPO | 3n), info('hubs', 0o444), () => hubsText(t)),
    textFile(qid(QTFILE, QSPACE_TOPO | 4n), info('pairs', 0o444), () => pairsText(t)),
    textFile(qid(QTFILE, QSPACE_TOPO | 5n), info('links', 0o444), () => linksText(t)),
  ];
  return new SynthDir(qid(QTDIR, QSPACE_TOPO), info('/', 0o555), () => files);
}
