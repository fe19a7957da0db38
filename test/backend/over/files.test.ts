/**
 * /net/dns and /net/ndb carried by the lower server's (src/backend/over/
 * files.ts): queries, answers one per read, errors and offsets pass
 * through unchanged; /net/ndb writes reach the lower file for our host
 * owner only; a lower without the file says so.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { overNet } from '../../../src/backend/over/backend.js';
import type { OverNet } from '../../../src/backend/over/backend.js';
import { DnsFile } from '../../../src/netfs/dns.js';
import type { DnsSource } from '../../../src/netfs/dns.js';
import { NdbFile } from '../../../src/netfs/netndb.js';
import { netRoot } from '../../../src/netfs/net.js';
import { ORDWR, OTRUNC, OWRITE } from '../../../src/ninep/types.js';
import { DNS_CLASS_IN, DNS_RCODE, DNS_TYPE } from '../../../src/stack/wire/dns.js';
import { EVE, errorOf } from '../../netfs/harness.js';
import { startUpper } from './harness.js';
import type { UpperFixture } from './harness.js';

const source: DnsSource = {
  query: (name) => Promise.resolve(name === 'h.example'
    ? { rcode: 0, records: [1, 2].map((i) => ({ name, type: DNS_TYPE.A, class: DNS_CLASS_IN, ttl: 9, data: { kind: 'a' as const, address: 0x0a000000 + i } })) }
    : { rcode: DNS_RCODE.NXDOMAIN, records: [] }),
};

const ndb = new NdbFile(EVE);
let lower: UpperFixture;
let bare: UpperFixture;
let over: OverNet;
let overBare: OverNet;
let upper: UpperFixture;
let upperBare: UpperFixture;

beforeAll(async () => {
  ndb.set('ip=10.0.2.15 ipmask=/120 ipgw=10.0.2.2\n\tdns=10.0.2.3\n');
  const dns = new DnsFile(source, EVE);
  lower = await startUpper(() => netRoot(EVE, (user) => [ndb.node, dns.node(user)]));
  bare = await startUpper(() => netRoot(EVE, () => []));
  over = await overNet({ eve: EVE, lower: `tcp!127.0.0.1!${lower.port}` });
  overBare = await overNet({ eve: EVE, lower: `tcp!127.0.0.1!${bare.port}` });
  upper = await startUpper(() => over.tree);
  upperBare = await startUpper(() => overBare.tree);
});

afterAll(async () => {
  await upper.close();
  await upperBare.close();
  await over.close();
  await overBare.close();
  await lower.close();
  await bare.close();
});

describe('/net/dns and /net/ndb over another server', () => {
  it("passes dns queries, answers and errors through", async () => {
    const c = await upper.client('alice');
    const f = await c.open('/dns', ORDWR);
    await f.write('h.example ip');
    f.offset = 0n;
    expect((await f.read(100)).toString()).toBe('h.example ip\t10.0.0.1');
    expect((await f.read(100)).toString()).toBe('h.example ip\t10.0.0.2');
    expect((await f.read(100)).length).toBe(0);
    expect((await f.read(100, undefined, 0n)).toString()).toBe('h.example ip\t10.0.0.1');
    f.offset = 0n;
    expect(await errorOf(f.write('gone.example ip'))).toBe('dns: name does not exist');
    expect(await errorOf(f.write('no-type'))).toBe('dns: illegal request no-type');
    f.offset = 3n;
    expect(await errorOf(f.write('h.example ip'))).toBe('dns: writing at non-zero offset');
    await f.close();
    expect((await c.stat('/dns')).uid).toBe('alice');
  });

  it("shows the lower /net/ndb and lets only our host owner write it", async () => {
    const alice = await upper.client('alice');
    expect((await alice.readFile('/ndb')).toString()).toBe('ip=10.0.2.15 ipmask=/120 ipgw=10.0.2.2\n\tdns=10.0.2.3\n');
    expect(await errorOf(alice.open('/ndb', OWRITE))).toBe('permission denied');
    const eve = await upper.client(EVE);
    const f = await eve.open('/ndb', OWRITE | OTRUNC);
    await f.write('ip=10.0.9.9\n');
    await f.close();
    expect(ndb.text()).toBe('ip=10.0.9.9\n');
  });

  it('fails to open a file the lower server does not have', async () => {
    const c = await upperBare.client('alice');
    expect(await errorOf(c.open('/dns', ORDWR))).toBe('file does not exist');
  });
});
