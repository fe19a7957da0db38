/**
 * Conversations and their ctl files on every backend (9/ip/devip.c,
 * tcp.c, udp.c, port/error.h): clone, the files of
 * a conversation and their modes, every generic and protocol ctl verb with
 * devip's exact error strings, permissions and wstat, stats and status
 * formats, and a full conversation table.
 */
import { expect, it } from 'vitest';
import { Interrupted } from '../../src/ninep/error.js';
import { DMDIR, OREAD, ORDWR } from '../../src/ninep/types.js';
import type { File } from '../../src/ninep/client.js';
import { EVE, TCP_STATUS, clone, convOf, errorOf, onEveryBackend, readFull, readText } from './suite.js';

/** 9front's TCP counters, in its order (9/ip/tcp.c tcpstats). */
const TCP_STATS = [
  'MaxConn', 'MaxSegment', 'ActiveOpens', 'PassiveOpens', 'EstabResets', 'CurrEstab', 'InSegs', 'OutSegs',
  'RetransSegs', 'RetransSegsSent', 'RetransTimeouts', 'InErrs', 'OutRsts', 'CsumErrs', 'HlenErrs', 'LenErrs',
  'OutOfOrder', 'Resequenced', 'ReseqBytelim', 'ReseqPktlim', 'Delayack', 'Wopenack', 'Recovery', 'RecoveryDone',
  'RecoveryRTO', 'RecoveryNoSeq', 'RecoveryCwind', 'RecoveryPA',
];

onEveryBackend('conversations and ctl', (fx, b) => {
  it('clone returns the ctl of a new conversation, listed and owned by the attacher', async () => {
    const c = await fx().client('alice');
    const ctl = await c.open('/tcp/clone', ORDWR);
    const text = (await ctl.read(64, undefined, 0n)).toString();
    expect(text).toMatch(/^(0|[1-9]\d*)$/);
    const n = Number(text);
    const st = await c.stat(`/tcp/${n}/ctl`);
    expect(ctl.qid.path).toBe(st.qid.path);
    expect(ctl.qid.path).not.toBe((await c.stat('/tcp/clone')).qid.path);
    expect((await ctl.stat()).name).toBe('ctl');
    const ls = await c.ls('/tcp');
    const entry = ls.find((d) => d.name === String(n));
    expect(entry?.uid).toBe('alice');
    expect(entry!.mode & DMDIR).not.toBe(0);
    expect(entry!.mode & 0o777).toBe(0o555);
    expect(ls.map((d) => d.name).slice(-2)).toEqual(['clone', 'stats']);
    const cl = ls.find((d) => d.name === 'clone')!;
    expect([cl.uid, cl.mode & 0o777]).toEqual(['network', 0o666]);
    expect(st.uid).toBe('alice');
    expect(st.mode & 0o777).toBe(0o660);
    await ctl.close();
  });

  it('a conversation directory holds ctl data err listen local remote status with devip modes', async () => {
    const c = await fx().client('alice');
    for (const proto of ['tcp', 'udp']) {
      const { ctl, dir } = await clone(c, proto);
      const all = await c.ls(dir);
      // Our stack adds its capture (and TCP its events) after devip's seven (README).
      const ours = b.name === 'stack' ? (proto === 'tcp' ? ['pcap', 'events'] : ['pcap']) : [];
      expect(all.map((d) => d.name)).toEqual(['ctl', 'data', 'err', 'listen', 'local', 'remote', 'status', ...ours]);
      const ls = all.slice(0, 7);
      for (const d of ls) {
        expect(d.uid).toBe('alice');
        expect(d.gid).toBe(EVE);
        expect(d.mode & 0o777).toBe(['local', 'remote', 'status'].includes(d.name) ? 0o444 : 0o660);
      }
      // Unset addresses print as ::!0; ctl reads have no newline.
      expect(await readText(c, `${dir}/local`)).toBe('::!0\n');
      expect(await readText(c, `${dir}/remote`)).toBe('::!0\n');
      expect((await ctl.read(64, undefined, 0n)).toString()).toBe(dir.split('/')[2]);
      await ctl.close();
    }
    expect(await errorOf(c.open('/tcp/99999/ctl', OREAD))).toBe('file does not exist');
  });

  it('stats: the 28 TCP counters and the four UDP counters, Name: value, in Plan 9\'s order', async () => {
    const c = await fx().client();
    const tcp = (await readText(c, '/tcp/stats')).split('\n');
    expect(tcp.pop()).toBe('');
    expect(tcp.map((l) => l.split(':')[0])).toEqual(TCP_STATS);
    for (const l of tcp) expect(l).toMatch(/^\w+: -?\d+$/);
    expect(tcp[0]).toMatch(/^MaxConn: [1-9]\d*$/);
    const udp = (await readText(c, '/udp/stats')).split('\n');
    expect(udp.pop()).toBe('');
    expect(udp.map((l) => l.split(':')[0])).toEqual(['InDatagrams', 'NoPorts', 'InErrors', 'OutDatagrams']);
    for (const l of udp) expect(l).toMatch(/^\w+: \d+$/);
    expect(await errorOf(c.open('/tcp/stats', ORDWR))).toBe('permission denied');
  });

  it('status: the full TCP line from Closed to Established, and UDP\'s Open/Closed line', async () => {
    const c = await fx().client();
    const echo = await fx().peer.listen({ echo: true });
    const t = await clone(c);
    const closed = await readText(c, `${t.dir}/status`);
    expect(closed).toMatch(TCP_STATUS);
    expect(closed).toMatch(/^Closed qin 0 qout 0 /);
    await t.ctl.write(`connect ${fx().peer.addr}!${echo.port}`);
    expect(await readText(c, `${t.dir}/status`)).toMatch(TCP_STATUS);
    expect(await readText(c, `${t.dir}/status`)).toMatch(/^Established /);
    await t.ctl.close();
    const u = await clone(c, 'udp');
    expect(await readText(c, `${u.dir}/status`)).toBe('Open qin 0 qout 0\n');
    await u.ctl.close();
    expect(await readText(c, `${u.dir}/status`)).toMatch(/^Closed qin \d+ qout \d+\n$/);
    await echo.close();
  });

  it('rejects bad ctl messages with devip\'s error strings and leaves the conversation Idle', async () => {
    const c = await fx().client();
    for (const proto of ['tcp', 'udp']) {
      const { ctl, dir } = await clone(c, proto);
      expect(await errorOf(ctl.write('bogus'))).toBe('unknown control request');
      expect(await errorOf(ctl.write(''))).toBe('short control request');
      expect(await errorOf(ctl.write('\n'))).toBe('short control request');
      expect(await errorOf(ctl.write('connect 127.0.0.1'))).toBe('malformed address');
      expect(await errorOf(ctl.write('connect localhost!80'))).toBe('bad ip address syntax');
      expect(await errorOf(ctl.write('connect *!80'))).toBe('bad ip address syntax');
      expect(await errorOf(ctl.write('connect 127.0.0.1!http'))).toBe('bad numeric port');
      expect(await errorOf(ctl.write('connect 127.0.0.1!80x'))).toBe('bad numeric port');
      expect(await errorOf(ctl.write('connect 127.0.0.1!65536'))).toBe('bad numeric port');
      expect(await errorOf(ctl.write('connect a b c d'))).toBe('bad args to connect');
      expect(await errorOf(ctl.write('connect'))).toBe('bad args to connect');
      expect(await errorOf(ctl.write('announce'))).toBe('bad args to announce');
      expect(await errorOf(ctl.write('announce 1 2'))).toBe('bad args to announce');
      expect(await errorOf(ctl.write('announce 192.0.2.254!80'))).toBe('not a local IP address');
      expect(await errorOf(ctl.write('announce x'))).toBe('bad numeric port');
      expect(await errorOf(ctl.write('bind'))).toBe('bad args to bind');
      expect(await errorOf(ctl.write('bind 1 2'))).toBe('bad args to bind');
      // libc's accept and reject are unknown to the kernel protocols.
      expect(await errorOf(ctl.write('accept 1'))).toBe('unknown control request');
      expect(await errorOf(ctl.write("reject 1 'no thanks'"))).toBe('unknown control request');
      expect(await readText(c, `${dir}/status`)).toMatch(/^(Closed|Open) /);
      expect(await readText(c, `${dir}/local`)).toBe('::!0\n');
      await ctl.close();
    }
  });

  it('announce * (any port) is for eve only', async () => {
    const alice = await fx().client('alice');
    const { ctl } = await clone(alice);
    expect(await errorOf(ctl.write('announce *!*'))).toBe('permission denied');
    expect(await errorOf(ctl.write('announce *'))).toBe('permission denied');
    await ctl.close();
    const eve = await fx().client(EVE);
    const a = await clone(eve);
    await a.ctl.write('announce *!*');
    expect(await readText(eve, `${a.dir}/status`)).toMatch(/^Listen /);
    expect(await readText(eve, `${a.dir}/local`)).toMatch(/^::!\d+\n$/);
    await a.ctl.close();
  });

  it('generic verbs ttl, tos, ignoreadvice and backlog are taken before and after connect; backlog is bounded', async () => {
    const c = await fx().client();
    const echo = await fx().peer.listen({ echo: true });
    const { ctl, dir } = await clone(c);
    for (const m of ['ttl 64', 'ttl', 'tos 16', 'tos', 'ignoreadvice', 'backlog 8', 'backlog 1024']) await ctl.write(m);
    for (const m of ['backlog 0', 'backlog 1025', 'backlog x', 'backlog']) expect(await errorOf(ctl.write(m)), m).toBe('bad arg in system call');
    await ctl.write(`connect ${fx().peer.addr}!${echo.port}`);
    for (const m of ['ttl 32', 'tos 0', 'ignoreadvice']) await ctl.write(m);
    const data = await c.open(`${dir}/data`, ORDWR);
    await data.write('still fine');
    expect((await readFull(data, 10)).toString()).toBe('still fine');
    await data.close();
    await ctl.close();
    const u = await clone(c, 'udp');
    for (const m of ['ttl 1', 'tos 8', 'ignoreadvice']) await u.ctl.write(m);
    await u.ctl.close();
    await echo.close();
  });

  it('TCP keepalive needs an established connection (sic: Establised); checksum is taken', async () => {
    const c = await fx().client();
    const echo = await fx().peer.listen({ echo: true });
    const { ctl } = await clone(c);
    expect(await errorOf(ctl.write('keepalive'))).toBe('connection must be in Establised state');
    expect(await errorOf(ctl.write('keepalive 1000'))).toBe('connection must be in Establised state');
    await ctl.write(`connect ${fx().peer.addr}!${echo.port}`);
    await ctl.write('keepalive');
    await ctl.write('keepalive 1000');
    await ctl.write('checksum 1');
    await ctl.write('checksum 0');
    expect(await errorOf(ctl.write('headers'))).toBe('unknown control request');
    await ctl.close();
    await echo.close();
  });

  it('TCP tcpporthogdefense takes on or off, anything else is unknown value for tcpporthogdefense', async () => {
    const c = await fx().client();
    const { ctl } = await clone(c);
    await ctl.write('tcpporthogdefense off');
    await ctl.write('tcpporthogdefense on');
    await ctl.write('tcpporthogdefense off');
    expect(await errorOf(ctl.write('tcpporthogdefense maybe'))).toBe('unknown value for tcpporthogdefense');
    await ctl.close();
  });

  if (b.carrier === 'stack') {
    it('our TCP\'s extra verbs: nodelay [0|1], congestion cubic|newreno (README)', async () => {
      const c = await fx().client();
      const echo = await fx().peer.listen({ echo: true });
      const { ctl } = await clone(c);
      await ctl.write(`connect ${fx().peer.addr}!${echo.port}`);
      for (const m of ['nodelay', 'nodelay 0', 'nodelay 1', 'congestion newreno', 'congestion cubic']) await ctl.write(m);
      expect(await errorOf(ctl.write('congestion vegas'))).toBe('bad arg in system call');
      await ctl.close();
      await echo.close();
    });
  }

  it('UDP headers and hangup are UDP verbs; TCP close and keepalive are not', async () => {
    const c = await fx().client();
    const { ctl } = await clone(c, 'udp');
    expect(await errorOf(ctl.write('close'))).toBe('unknown control request');
    expect(await errorOf(ctl.write('keepalive'))).toBe('unknown control request');
    expect(await errorOf(ctl.write('hangupxmit'))).toBe('unknown control request');
    await ctl.write('announce 0');
    await ctl.write('headers');
    await ctl.write('hangup');
    await ctl.close();
  });

  it('bind only records the local side; its address must be ours', async () => {
    const c = await fx().client();
    const { ctl, dir } = await clone(c);
    await ctl.write('bind 1234');
    expect(await readText(c, `${dir}/local`)).toBe('::!1234\n');
    await ctl.write('bind 0');
    expect(await readText(c, `${dir}/local`)).toBe('::!0\n');
    expect(await errorOf(ctl.write('bind 192.0.2.254!1'))).toBe('not a local IP address');
    expect(await errorOf(ctl.write('bind x'))).toBe('bad numeric port');
    expect(await readText(c, `${dir}/status`)).toMatch(/^Closed /);
    await ctl.close();
  });

  it('err cannot be written, and a read of it blocks (nothing is queued for TCP/UDP) until flushed', async () => {
    const c = await fx().client();
    const echo = await fx().peer.listen({ echo: true });
    const { ctl, dir } = await clone(c);
    await ctl.write(`connect ${fx().peer.addr}!${echo.port}`);
    expect(await errorOf(c.open(`${dir}/err`, ORDWR))).toBe('permission denied');
    const err = await c.open(`${dir}/err`, OREAD);
    const ac = new AbortController();
    const r = err.read(100, ac.signal);
    const data = await c.open(`${dir}/data`, ORDWR);
    await data.write('e');
    expect((await readFull(data, 1)).toString()).toBe('e');
    ac.abort();
    await expect(r).rejects.toBeInstanceOf(Interrupted);
    for (const f of [err, data, ctl]) await f.close();
    await echo.close();
  });
});

onEveryBackend('permissions (9front)', (fx) => {
  it('only the owner and eve may open a conversation\'s ctl, data, err and listen; local, remote, status are 0444', async () => {
    const alice = await fx().client('alice');
    const bob = await fx().client('bob');
    const eve = await fx().client(EVE);
    const { ctl, dir, n } = await clone(alice);
    expect(await errorOf(bob.open(`${dir}/data`, ORDWR))).toBe('permission denied');
    expect(await errorOf(bob.open(`${dir}/data`, OREAD))).toBe('permission denied');
    expect(await errorOf(bob.open(`${dir}/ctl`, ORDWR))).toBe('permission denied');
    expect(await errorOf(bob.open(`${dir}/ctl`, OREAD))).toBe('permission denied');
    expect(await errorOf(bob.open(`${dir}/err`, OREAD))).toBe('permission denied');
    expect(await readText(bob, `${dir}/local`)).toBe('::!0\n');
    expect(await readText(bob, `${dir}/status`)).toMatch(/^Closed /);
    for (const f of ['local', 'remote', 'status']) expect(await errorOf(alice.open(`${dir}/${f}`, ORDWR)), f).toBe('permission denied');
    const ectl = await eve.open(`${dir}/ctl`, ORDWR);
    expect(await convOf(ectl)).toBe(n);
    await ectl.close();
    await ctl.write('announce 0');
    expect(await errorOf(bob.open(`${dir}/listen`, ORDWR))).toBe('permission denied');
    await ctl.close();
  });

  it('wstat: only the owner or eve, only on ctl and data; mode is masked 0666 and applies; uid only to oneself unless eve', async () => {
    const alice = await fx().client('alice');
    const bob = await fx().client('bob');
    const eve = await fx().client(EVE);
    const { ctl, dir } = await clone(alice);
    expect(await errorOf(bob.wstat(`${dir}/ctl`, { mode: 0o666 }))).toBe('permission denied');
    expect(await errorOf(alice.wstat(`${dir}/local`, { mode: 0o666 }))).toBe('permission denied');
    expect(await errorOf(alice.wstat(`${dir}/ctl`, { uid: 'bob' }))).toBe('permission denied');
    await alice.wstat(`${dir}/ctl`, { mode: 0o777 });
    expect((await alice.stat(`${dir}/data`)).mode & 0o777).toBe(0o666);
    const bctl = await bob.open(`${dir}/ctl`, ORDWR);
    await bctl.close();
    await alice.wstat(`${dir}/data`, { mode: 0o600 });
    expect(await errorOf(bob.open(`${dir}/data`, OREAD))).toBe('permission denied');
    await eve.wstat(`${dir}/ctl`, { uid: 'bob' });
    expect((await alice.stat(dir)).uid).toBe('bob');
    const bdata = await bob.open(`${dir}/data`, ORDWR);
    // Now alice is "other": 0600 shuts her out.
    expect(await errorOf(alice.open(`${dir}/data`, ORDWR))).toBe('permission denied');
    await bdata.close();
    await ctl.close();
  });

  it('a listen yields a conversation owned by the announcer\'s owner', async () => {
    const alice = await fx().client('alice');
    const bob = await fx().client('bob');
    const a = await clone(alice);
    await a.ctl.write('announce 0');
    const P = Number(/!(\d+)\n$/.exec(await readText(alice, `${a.dir}/local`))![1]);
    const lp = alice.open(`${a.dir}/listen`, ORDWR);
    const call = await fx().peer.dial(fx().addr, P);
    const l = await lp;
    const M = await convOf(l);
    expect((await alice.stat(`/tcp/${M}`)).uid).toBe('alice');
    expect(await errorOf(bob.open(`/tcp/${M}/data`, ORDWR))).toBe('permission denied');
    await l.close();
    await call.close();
    await a.ctl.close();
  });
});

onEveryBackend('a full conversation table', (fx) => {
  it('clone fails with no free devices; a closed conversation is recycled, the lowest free first', async () => {
    // The host owner: other users stop at their quota first (test/netfs/bounds.test.ts).
    const c = await fx().client(EVE);
    const held: File[] = [];
    const nums: number[] = [];
    let err = 'no error';
    for (let i = 0; i < 4096 && err === 'no error'; i++) {
      try {
        const f = await c.open('/udp/clone', ORDWR);
        held.push(f);
        nums.push(await convOf(f));
      } catch (e) {
        err = await errorOf(Promise.reject(e));
      }
    }
    expect(err).toBe('no free devices');
    // devip's UDP table (9/ip/devip.c).
    expect(held.length).toBe(1024);
    // Free two; the lower number comes back first, owned by the new opener.
    const [x, y] = [held.length - 5, 7].map((i) => ({ f: held[i]!, n: nums[i]! }));
    await x!.f.close();
    await y!.f.close();
    expect((await c.stat(`/udp/${y!.n}`)).uid).toBe('network');
    const bob = await fx().client('bob');
    const again = await bob.open('/udp/clone', ORDWR);
    expect(await convOf(again)).toBe(y!.n);
    expect((await bob.stat(`/udp/${y!.n}`)).uid).toBe('bob');
    const next = await bob.open('/udp/clone', ORDWR);
    expect(await convOf(next)).toBe(x!.n);
    expect(await errorOf(bob.open('/udp/clone', ORDWR))).toBe('no free devices');
    await again.close();
    await next.close();
    for (const f of held) await f.close();
  }, 60_000);
});
