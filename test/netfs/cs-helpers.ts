/**
 * Shared pieces of the /net/cs tests: loopback-only host interfaces (with
 * and without IPv6, which decides what cs answers) and one query asked on
 * a fresh fid.
 */
import type { HostInterfaces } from '../../src/backend/host/interfaces.js';
import { parseIp, parseMask } from '../../src/netfs/ipaddr.js';
import type { Client } from '../../src/ninep/client.js';
import { ORDWR } from '../../src/ninep/types.js';
import { errorOf } from './harness.js';

/** Only IPv4 interfaces: 9front cs drops IPv6 answers. */
export const loopbackV4: HostInterfaces = {
  list: () => [{ name: 'lo', mtu: 65536, addrs: [{ ip: parseIp('127.0.0.1')!, mask: parseMask('/8')! }] }],
  isLocal: (ip) => ip[12] === 127,
};

/** Loopback with 127.0.0.1 and ::1. */
export const loopbackBoth: HostInterfaces = {
  list: () => [{
    name: 'lo',
    mtu: 65536,
    addrs: [
      { ip: parseIp('127.0.0.1')!, mask: parseMask('/8')! },
      { ip: parseIp('::1')!, mask: parseMask('/128', false)! },
    ],
  }],
  isLocal: (ip) => ip[12] === 127 || ip[15] === 1,
};

/** Write a query on a fresh fid and read every answer (reads at offset 0, as after a seek). */
export async function ask(c: Client, query: string): Promise<string[]> {
  const f = await c.open('/cs', ORDWR);
  try {
    await f.write(query);
    const out: string[] = [];
    for (;;) {
      const b = await f.read(512, undefined, 0n);
      if (b.length === 0) return out;
      out.push(b.toString());
    }
  } finally {
    await f.close();
  }
}

/** The error a query's write fails with, on a fresh fid. */
export async function failure(c: Client, query: string | Uint8Array): Promise<string> {
  const f = await c.open('/cs', ORDWR);
  try {
    return await errorOf(f.write(query));
  } finally {
    await f.close();
  }
}
