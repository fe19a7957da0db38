// TapLink against the real kernel (needs root, /dev/net/tun, ip, ping).
// Every device lives in a network namespace this file creates, with 10.x
// addresses only; afterAll deletes the namespace and any device it made.
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SeededRng } from '../../src/lib/rng.js';
import { formatMac } from '../../src/link/mac.js';
import { loadTapAddon, TAP_ADDON_PATH, tapAddonUnavailable } from '../../src/link/native.js';
import { TapLink } from '../../src/link/tap.js';
import { netGate, netTestsRequired } from '../helpers/net-gate.js';
import { arpReply, arpRequest, ETHERTYPE_IPV4, etherType, icmpEchoReply, ip4, parseArp, sameBytes } from './frames.js';

const gate = netGate({ root: true, tun: true, commands: ['ip', 'ping'] }, 'TAP link');
gate.failIfRequired();
const permGate = netGate({ root: true, tun: true, commands: ['ip', 'setpriv'] }, 'TAP permissions');
permGate.failIfRequired();
const addonMissing = tapAddonUnavailable();
if (addonMissing && !netTestsRequired) console.warn(`skipping TAP link tests: ${addonMissing}`);
const noAddon = addonMissing !== null && !netTestsRequired;

const run = promisify(execFile);
const sh = (cmd: string, ...args: string[]): string => execFileSync(cmd, args, { encoding: 'utf8', stdio: 'pipe' });
const trySh = (cmd: string, ...args: string[]): boolean => spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;

async function waitFor(cond: () => boolean, ms = 3000, what = 'condition'): Promise<void> {
  for (const end = Date.now() + ms; !cond(); ) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const suffix = randomBytes(3).toString('hex');
const NS = `9nt-${suffix}`;
const net = randomInt(1, 255);
const ip = (host: number, second = 77): string => `10.${second}.${net}.${host}`;

describe.skipIf(gate.skip || noAddon)('TapLink (kernel)', () => {
  const TAP = `9nt${suffix}`; // <= 15 chars
  const VTAP = `9nv${suffix}`;
  const GONE = `9ng${suffix}`;
  const BTAP = `9nb${suffix}`;
  const PTAP = `9np${suffix}`;
  let link: TapLink;

  beforeAll(() => {
    link = TapLink.open({ name: TAP, mode: 'create', rng: new SeededRng(1) });
    sh('ip', 'netns', 'add', NS);
    trySh('ip', 'netns', 'exec', NS, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1');
    sh('ip', 'link', 'set', TAP, 'netns', NS);
    sh('ip', '-n', NS, 'link', 'set', TAP, 'up');
    sh('ip', '-n', NS, 'addr', 'add', `${ip(1)}/24`, 'dev', TAP);
  });

  afterAll(async () => {
    await link?.close();
    trySh('ip', 'netns', 'del', NS);
    for (const dev of [TAP, VTAP, GONE, BTAP, PTAP]) if (trySh('ip', 'link', 'show', dev)) trySh('ip', 'link', 'del', dev);
  });

  it('reports its name, MTU, our MAC and the kernel side MAC', () => {
    expect(link.name).toBe(TAP);
    expect(link.mtu).toBe(1500);
    expect(link.mac[0]! & 3).toBe(2); // locally administered unicast
    expect(link.peerMac).toHaveLength(6);
    expect(sameBytes(link.mac, link.peerMac!)).toBe(false);
    const shown = sh('ip', '-n', NS, '-br', 'link', 'show', TAP);
    expect(shown).toContain(formatMac(link.peerMac!));
  });

  it('delivers frames we write to the kernel: an ARP request gets its reply', async () => {
    const replies: ReturnType<typeof parseArp>[] = [];
    const sub = link.attach((f) => {
      const a = parseArp(f);
      if (a?.op === 2) replies.push(a);
    });
    try {
      link.send(arpRequest(link.mac, ip4(ip(2)), ip4(ip(1))));
      await waitFor(() => replies.length > 0, 3000, 'ARP reply');
      const r = replies[0]!;
      expect(sameBytes(r.spa, ip4(ip(1)))).toBe(true);
      expect(sameBytes(r.sha, link.peerMac!)).toBe(true);
      expect(sameBytes(r.tha, link.mac)).toBe(true);
      expect(link.stats.txFrames).toBeGreaterThanOrEqual(1);
      expect(link.stats.rxFrames).toBeGreaterThanOrEqual(1);
    } finally {
      sub.dispose();
    }
  });

  it('receives what the kernel sends: ARP request and ICMP echo, answered through the link', async () => {
    let arpAsked = false;
    let echoes = 0;
    const sub = link.attach((f) => {
      const a = parseArp(f);
      if (a?.op === 1 && sameBytes(a.tpa, ip4(ip(3)))) {
        arpAsked = true;
        link.send(arpReply(link.mac, a.tpa, a.sha, a.spa));
      }
      const echo = icmpEchoReply(f, link.mac);
      if (echo) {
        echoes++;
        link.send(echo);
      }
    });
    try {
      // ping exits 0 only if our echo reply arrives with good checksums.
      await run('ip', ['netns', 'exec', NS, 'ping', '-c1', '-W2', ip(3)]);
      expect(arpAsked).toBe(true);
      expect(echoes).toBe(1);
    } finally {
      sub.dispose();
    }
  });

  it('hands frames queued while detached to JS in one batch', async () => {
    sh('ip', '-n', NS, 'neigh', 'replace', ip(4), 'lladdr', formatMac(link.mac), 'dev', TAP, 'nud', 'permanent');
    spawnSync('ip', ['netns', 'exec', NS, 'ping', '-c5', '-i', '0.01', '-W', '0.1', ip(4)], { stdio: 'ignore' });
    const batchOf: number[] = [];
    const before = link.rxBatches;
    const sub = link.attach((f) => {
      if (etherType(f) === ETHERTYPE_IPV4 && f[14 + 9] === 1) batchOf.push(link.rxBatches - before);
    });
    try {
      await waitFor(() => batchOf.length >= 5, 3000, '5 ICMP frames');
      expect(batchOf).toEqual([1, 1, 1, 1, 1]);
    } finally {
      sub.dispose();
    }
  });

  it('bounds batches and drops frames longer than frameMax (addon level)', async () => {
    const tap = new (loadTapAddon().Tap)({ name: BTAP, mode: 'create', batch: 4, frameMax: 128 });
    try {
      sh('ip', 'link', 'set', BTAP, 'netns', NS);
      sh('ip', '-n', NS, 'link', 'set', BTAP, 'up');
      sh('ip', '-n', NS, 'addr', 'add', `${ip(1, 79)}/24`, 'dev', BTAP);
      sh('ip', '-n', NS, 'neigh', 'replace', ip(2, 79), 'lladdr', '02:00:00:00:00:02', 'dev', BTAP, 'nud', 'permanent');
      const ping = (...a: string[]) =>
        spawnSync('ip', ['netns', 'exec', NS, 'ping', '-i', '0.01', '-W', '0.1', ...a, ip(2, 79)], { stdio: 'ignore' });
      ping('-c10'); // 98-byte frames
      ping('-c3', '-s', '300'); // 342-byte frames: longer than frameMax
      const counts: number[] = [];
      let icmp = 0;
      tap.start(
        (n) => {
          counts.push(n);
          const bytes = new Uint8Array(tap.rxBuffer);
          for (let i = 0, off = 0; i < n; off += tap.rxLengths[i++]!) {
            const f = bytes.subarray(off, off + tap.rxLengths[i]!);
            if (etherType(f) === ETHERTYPE_IPV4 && f[14 + 9] === 1) icmp++;
          }
        },
        (code, msg) => {
          throw new Error(`${code}: ${msg}`);
        },
      );
      await waitFor(() => icmp >= 10 && tap.counters().truncated >= 3, 3000, 'frames and truncations');
      expect(Math.max(...counts)).toBeLessThanOrEqual(4);
      expect(icmp).toBe(10);
      expect(tap.counters().truncated).toBe(3);
    } finally {
      tap.close();
    }
  });

  it('works with IFF_VNET_HDR (header stripped, zero header prepended)', async () => {
    const v = TapLink.open({ name: VTAP, mode: 'create', vnetHdr: true, rng: new SeededRng(2) });
    try {
      sh('ip', 'link', 'set', VTAP, 'netns', NS);
      sh('ip', '-n', NS, 'link', 'set', VTAP, 'up');
      sh('ip', '-n', NS, 'addr', 'add', `${ip(1, 78)}/24`, 'dev', VTAP);
      const replies: ReturnType<typeof parseArp>[] = [];
      v.attach((f) => {
        const a = parseArp(f);
        if (a?.op === 2) replies.push(a);
      });
      v.send(arpRequest(v.mac, ip4(ip(2, 78)), ip4(ip(1, 78))));
      await waitFor(() => replies.length > 0, 3000, 'ARP reply over vnet');
      expect(sameBytes(replies[0]!.tha, v.mac)).toBe(true);
    } finally {
      await v.close();
    }
  });

  it('reports a device deleted under it through onError and closes', async () => {
    let err: Error | null = null;
    const g = TapLink.open({ name: GONE, mode: 'create', onError: (e) => (err = e) });
    g.attach(() => {});
    sh('ip', 'link', 'del', GONE);
    await waitFor(() => err !== null, 3000, 'onError');
    expect(err!.message).toMatch(/^E[A-Z]+: /);
    expect(g.isClosed).toBe(true);
    expect(g.error).toBe(err);
    await g.close();
  });

  it('attaches to a persistent TAP, refuses a second open, and leaves the device on close', async () => {
    sh('ip', 'tuntap', 'add', 'dev', PTAP, 'mode', 'tap');
    const p = TapLink.open({ name: PTAP, mode: 'attach' });
    expect(p.name).toBe(PTAP);
    expect(() => TapLink.open({ name: PTAP, mode: 'attach' })).toThrow(new RegExp(`^EBUSY: ${PTAP} is busy`));
    expect(() => TapLink.open({ name: PTAP, mode: 'create' })).toThrow(`EBUSY: ${PTAP} already exists`);
    await p.close();
    expect(trySh('ip', 'link', 'show', PTAP)).toBe(true);
    const again = TapLink.open({ name: PTAP }); // auto: attaches
    await again.close();
    sh('ip', 'tuntap', 'del', 'dev', PTAP, 'mode', 'tap');
  });

  it('gives a clear error for a missing device in attach mode', () => {
    const name = `9nm${suffix}`;
    expect(() => TapLink.open({ name, mode: 'attach' })).toThrow(
      new RegExp(`^ENODEV: no device ${name}; create it with: ip tuntap add dev ${name} mode tap user \\S+$`),
    );
  });

  it('close is idempotent, stops delivery and removes the device it created', async () => {
    let n = 0;
    link.attach(() => n++);
    await link.close();
    await link.close();
    spawnSync('ip', ['netns', 'exec', NS, 'ping', '-c3', '-i', '0.01', '-W', '0.1', ip(4)], { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 50));
    expect(n).toBe(0);
    const dropped = link.stats.txDropped;
    link.send(arpRequest(link.mac, ip4(ip(2)), ip4(ip(1))));
    expect(link.stats.txDropped).toBe(dropped + 1);
    expect(() => link.attach(() => {})).toThrow(/closed/);
    expect(trySh('ip', '-n', NS, 'link', 'show', TAP)).toBe(false);
  });
});

describe.skipIf(permGate.skip || noAddon)('TAP permissions (without CAP_NET_ADMIN)', () => {
  const MINE = `9nu${suffix}`; // owned by uid 0: attachable without CAP_NET_ADMIN
  const THEIRS = `9nn${suffix}`; // owned by nobody
  const NEW = `9nx${suffix}`;
  const fixture = fileURLToPath(new URL('./fixtures/open-tap.mjs', import.meta.url));

  afterAll(() => {
    for (const dev of [MINE, THEIRS, NEW]) if (trySh('ip', 'link', 'show', dev)) trySh('ip', 'link', 'del', dev);
  });

  it('attaches to a TAP made for this user, and explains EPERM otherwise', () => {
    sh('ip', 'tuntap', 'add', 'dev', MINE, 'mode', 'tap', 'user', '0');
    sh('ip', 'tuntap', 'add', 'dev', THEIRS, 'mode', 'tap', 'user', '65534');
    const out = sh(
      'setpriv', '--bounding-set=-net_admin', '--inh-caps=-net_admin', '--',
      process.execPath, fixture, TAP_ADDON_PATH, `attach:${MINE}`, `create:${NEW}`, `attach:${THEIRS}`,
    );
    const [mine, created, theirs] = JSON.parse(out) as { ok: boolean; code?: string; message?: string; name?: string }[];
    expect(mine).toEqual({ ok: true, name: MINE });
    expect(created!.message).toMatch(new RegExp(`^EPERM: creating ${NEW} needs CAP_NET_ADMIN; or ip tuntap add dev ${NEW} mode tap user \\S+$`));
    expect(created!.code).toBe('EPERM');
    expect(theirs!.message).toMatch(new RegExp(`^EPERM: attaching ${THEIRS} is not allowed for this user; recreate it with: ip tuntap add`));
    expect(trySh('ip', 'link', 'show', NEW)).toBe(false);
  });
});
