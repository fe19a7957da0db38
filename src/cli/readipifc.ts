/**
 * readipifc (Plan 9 libip/readipifc.c): the interfaces of a served /net
 * from each /net/ipifc/N/status (device, maxtu, the packet counters, and
 * one tab-led line per address: ip, mask, network or remote).
 */
import type { Client } from '../ninep/client.js';
import { servedPath } from './netcall.js';

export interface Lifc {
  ip: string;
  /** As the status file spells it (%M: /120 for a v4 /24). */
  mask: string;
  net: string;
}

export interface Ipifc {
  index: number;
  dev: string;
  mtu: number;
  pktin: number;
  pktout: number;
  errin: number;
  errout: number;
  lifcs: Lifc[];
}

/** Parse one status file; null if it is not one. */
export function parseIfcStatus(index: number, text: string): Ipifc | null {
  const [first, ...rest] = text.split('\n');
  const f = (first ?? '').trim().split(/\s+/);
  if (f[0] !== 'device') return null;
  const num = (key: string): number => {
    const i = f.indexOf(key);
    const n = i >= 0 ? Number(f[i + 1]) : 0;
    return Number.isFinite(n) ? n : 0;
  };
  // An unbound interface has no device name: "device  maxtu ...".
  const dev = f[1] === 'maxtu' ? '' : f[1] ?? '';
  const lifcs: Lifc[] = [];
  for (const line of rest) {
    if (!line.startsWith('\t')) continue;
    const [ip, mask, net] = line.trim().split(/\s+/);
    if (ip && mask && net) lifcs.push({ ip, mask, net });
  }
  return { index, dev, mtu: num('maxtu'), pktin: num('pktin'), pktout: num('pktout'), errin: num('errin'), errout: num('errout'), lifcs };
}

/** Every interface under netroot (e.g. /net), in index order. */
export async function readIpifc(c: Client, netroot: string): Promise<Ipifc[]> {
  const dir = servedPath(`${netroot}/ipifc`);
  const out: Ipifc[] = [];
  const names = (await c.ls(dir)).map((d) => d.name).filter((n) => /^\d+$/.test(n)).sort((a, b) => Number(a) - Number(b));
  for (const n of names) {
    const text = await c.readFile(`${dir}/${n}/status`).catch(() => null);
    const ifc = text === null ? null : parseIfcStatus(Number(n), text.toString());
    if (ifc) out.push(ifc);
  }
  return out;
}
