/**
 * TCP connect on every backend (9/ip/devip.c, 9/ip/tcp.c): dialling the peer, refusals and what they leave behind (issue 8
 * item 4), a connect pending in Syn_sent (flushed, or ended by hangup),
 * local ports, loopback inside the /net (item 8), the conversation's ttl and
 * tos on every segment (item 3, where the peer can see frames), and
 * independent clients.
 */
import { expect, it } from 'vitest';
import { Interrupted } from '../../src/ninep/error.js';
import { ORDWR } from '../../src/ninep/types.js';
import {
  EVE, Ehungup, TCP_STATUS, announce0, clone, convOf, errorOf, expectEof, later, onEveryBackend, prompt, settles, readFull, readText, untilText,
} from './suite.js';

onEveryBackend('tcp connect', (fx, b) => {
  it('dials the peer through clone, connect and data; status, local and remote', async () => {
    const c = await fx().client();
    const echo = await fx().peer.listen({ echo: true });
    const { ctl, dir } = await clone(c);
    const msg = `connect ${fx().peer.addr}!${echo.port}`;
    expect(await ctl.write(msg)).toBe(msg.length);
    const data = await c.open(`${dir}/data`, ORDWR);
    const status = await readText(c, `${dir}/status`);
    expect(status).toMatch(TCP_STATUS);
    expect(status).toMatch(/^Established /);
    // The route-chosen source address and an auto-allocated port.
    expect(await readText(c, `${dir}/local`)).toMatch(new RegExp(`^${fx().addr.replace(/\./g, '\\.')}!([1-9]\\d*)\\n$`));
    expect(await readText(c, `${dir}/remote`)).toBe(`${fx().peer.addr}!${echo.port}\n`);
    await data.write('hello, echo');
    expect((await readFull(data, 11)).toString()).toBe('hello, echo');
    await data.close();
    await ctl.close();
    await echo.close();
  });

  it('data opened before connect: a read blocks, then gets what arrives', async () => {
    const c = await fx().client();
    const l = await fx().peer.listen();
    const { ctl, dir } = await clone(c);
    const data = await c.open(`${dir}/data`, ORDWR);
    const r = later(data.read(100));
    await ctl.write(`connect ${fx().peer.addr}!${l.port}`);
    const call = await l.accepted();
    await call.write('late');
    expect((await r).toString()).toBe('late');
    await data.close();
    await ctl.close();
    await call.close();
    await l.close();
  });

  it('connection refused, then connection in use on the same ctl for connect and announce', async () => {
    const c = await fx().client();
    const echo = await fx().peer.listen({ echo: true });
    const { ctl } = await clone(c);
    expect(await errorOf(ctl.write(`connect ${fx().peer.addr}!${await fx().peer.closedTcpPort()}`))).toBe('connection refused');
    expect(await errorOf(ctl.write(`connect ${fx().peer.addr}!${echo.port}`))).toBe('connection in use');
    expect(await errorOf(ctl.write('announce 0'))).toBe('connection in use');
    await ctl.close();
    await echo.close();
  });

  it('a connect to port 0 sends its SYN and is refused, as Plan 9\'s', async () => {
    const c = await fx().client();
    const { ctl } = await clone(c);
    expect(await errorOf(ctl.write(`connect ${fx().peer.addr}!0`))).toBe('connection refused');
    await ctl.close();
  });

  it('item 4: after a refused connect data reads give EOF at once — the waiting one and the next two — then i/o on hungup channel', async () => {
    const c = await fx().client();
    const { ctl, dir } = await clone(c);
    const data = await c.open(`${dir}/data`, ORDWR);
    const waiting = later(prompt('the read waiting during the refused connect', (s) => data.read(100, s)));
    expect(await errorOf(ctl.write(`connect ${fx().peer.addr}!${await fx().peer.closedTcpPort()}`))).toBe('connection refused');
    expect((await waiting).length).toBe(0);
    await expectEof(data, 2);
    expect(await errorOf(data.write('x'))).toBe(Ehungup);
    // A data file opened after the refusal sees the same end.
    const late = await c.open(`${dir}/data`, ORDWR);
    expect(await errorOf(prompt('a read on a data file opened after the refusal', (s) => late.read(100, s)))).toBe(Ehungup);
    await late.close();
    await data.close();
    await ctl.close();
  });

  it('a connect pending in Syn_sent is flushable and leaves the conversation in use', async () => {
    const hole = await fx().blackHole();
    try {
      const c = await fx().client();
      const echo = await fx().peer.listen({ echo: true });
      const { ctl, dir } = await clone(c);
      const ac = new AbortController();
      const p = later(ctl.write(`connect ${hole.addr}`, ac.signal));
      await untilText(c, `${dir}/status`, /^Syn_sent /);
      expect(await readText(c, `${dir}/status`)).toMatch(TCP_STATUS);
      ac.abort();
      await expect(p).rejects.toBeInstanceOf(Interrupted);
      // The 9P connection still works; the conversation cannot be reused.
      expect(await errorOf(ctl.write(`connect ${fx().peer.addr}!${echo.port}`))).toBe('connection in use');
      await ctl.close();
      await echo.close();
    } finally {
      await hole.close();
    }
  });

  it('hangup from another ctl fid ends a pending connect as Plan 9 does: the connect returns, the conversation is closed', async () => {
    const hole = await fx().blackHole();
    try {
      const c = await fx().client();
      const { ctl, dir } = await clone(c);
      const ac = new AbortController();
      const p = later(ctl.write(`connect ${hole.addr}`, ac.signal));
      await untilText(c, `${dir}/status`, /^Syn_sent /);
      const ctl2 = await c.open(`${dir}/ctl`, ORDWR);
      await ctl2.write('hangup');
      // tcp.c localclose → Fsconnected(s, nil): the connect write completes without error.
      await settles('the pending connect after hangup', p.then(() => {}, () => {}), ac);
      expect(await errorOf(p)).toBe('no error');
      expect(await readText(c, `${dir}/status`)).toMatch(/^Closed /);
      const data = await c.open(`${dir}/data`, ORDWR);
      expect((await prompt('a read after the hangup', (s) => data.read(10, s))).length).toBe(0);
      expect(await errorOf(data.write('x'))).toBe(Ehungup);
      await data.close();
      await ctl2.close();
      await ctl.close();
    } finally {
      await hole.close();
    }
  });

  it('connect with a local port (third field, [addr!]port) uses it', async () => {
    const c = await fx().client();
    const echo = await fx().peer.listen({ echo: true });
    for (const form of ['port', 'addr!port']) {
      const { ctl, dir } = await clone(c);
      const lport = await fx().freePort();
      await ctl.write(`connect ${fx().peer.addr}!${echo.port} ${form === 'port' ? lport : `${fx().addr}!${lport}`}`);
      expect(await readText(c, `${dir}/local`)).toBe(`${fx().addr}!${lport}\n`);
      await ctl.close();
    }
    const bad = await clone(c);
    expect(await errorOf(bad.ctl.write(`connect ${fx().peer.addr}!${echo.port} 192.0.2.254!${await fx().freePort()}`))).toBe('not a local IP address');
    await bad.ctl.close();
    await echo.close();
  });

  it('connect A!P!r takes a restricted local port, 600–1023', async () => {
    const c = await fx().client();
    const echo = await fx().peer.listen({ echo: true });
    const { ctl, dir } = await clone(c);
    const r = await errorOf(ctl.write(`connect ${fx().peer.addr}!${echo.port}!r`));
    if (b.name === 'host') {
      // Host sockets: ports below 1024 are root's on the host, so the host
      // owner's alone here (or nobody's when 9net is not root). Through
      // --over the lower server decides, for its own user (eve here).
      expect(r).toBe('permission denied');
      if (process.getuid?.() === 0) {
        const e = await fx().client(EVE);
        const x = await clone(e);
        expect(await errorOf(x.ctl.write(`connect ${fx().peer.addr}!${echo.port}!r`))).toBe('no error');
        const port = Number(/!(\d+)\n$/.exec(await readText(e, `${x.dir}/local`))![1]);
        expect(port).toBeGreaterThanOrEqual(600);
        expect(port).toBeLessThanOrEqual(1023);
        await x.ctl.close();
      }
    } else {
      expect(r).toBe(b.carrier === 'host' && process.getuid?.() !== 0 ? 'permission denied' : 'no error');
      if (r === 'no error') {
        const port = Number(/!(\d+)\n$/.exec(await readText(c, `${dir}/local`))![1]);
        expect(port).toBeGreaterThanOrEqual(600);
        expect(port).toBeLessThanOrEqual(1023);
      }
    }
    await ctl.close();
    await echo.close();
  });

  it('item 8: tcp!127.0.0.1!P reaches a conversation announced on the same /net (loopback never leaves it)', async () => {
    const c = await fx().client();
    const a = await clone(c);
    const P = await announce0(c, a.ctl, a.dir);
    const lp = later(c.open(`${a.dir}/listen`, ORDWR));
    const d = await clone(c);
    await prompt('a dial of 127.0.0.1', (s) => d.ctl.write(`connect 127.0.0.1!${P}`, s));
    expect(await readText(c, `${d.dir}/remote`)).toBe(`127.0.0.1!${P}\n`);
    const local = await readText(c, `${d.dir}/local`);
    expect(local).toMatch(/^127\.0\.0\.1!\d+\n$/);
    const l = await lp;
    const M = await convOf(l);
    expect(await readText(c, `/tcp/${M}/local`)).toBe(`127.0.0.1!${P}\n`);
    expect(await readText(c, `/tcp/${M}/remote`)).toBe(local);
    const ours = await c.open(`${d.dir}/data`, ORDWR);
    const theirs = await c.open(`/tcp/${M}/data`, ORDWR);
    await ours.write('over loopback');
    expect((await readFull(theirs, 13)).toString()).toBe('over loopback');
    await theirs.write('and back');
    expect((await readFull(ours, 8)).toString()).toBe('and back');
    for (const f of [ours, theirs, l, d.ctl, a.ctl]) await f.close();
  });

  it('blocked reads of two clients do not delay a third', async () => {
    const l = await fx().peer.listen();
    const [ca, cb, cc] = [await fx().client('a'), await fx().client('b'), await fx().client('c')];
    const convA = await clone(ca);
    const convB = await clone(cb);
    await convA.ctl.write(`connect ${fx().peer.addr}!${l.port}`);
    const sa = await l.accepted();
    await convB.ctl.write(`connect ${fx().peer.addr}!${l.port}`);
    const sb = await l.accepted();
    const da = await ca.open(`${convA.dir}/data`, ORDWR);
    const db = await cb.open(`${convB.dir}/data`, ORDWR);
    let settled = 0;
    const ra = later(da.read(100).finally(() => settled++));
    const rb = later(db.read(100).finally(() => settled++));
    expect((await readText(cc, '/tcp/stats')).split('\n')[0]).toMatch(/^MaxConn: /);
    const names = (await cc.ls('/tcp')).map((d) => d.name);
    expect(names).toContain(String(convA.n));
    expect(names).toContain(String(convB.n));
    expect(await readText(cc, `${convA.dir}/status`)).toMatch(/^Established /);
    expect(settled).toBe(0);
    await sb.write('to b');
    await sa.write('to a');
    expect((await ra).toString()).toBe('to a');
    expect((await rb).toString()).toBe('to b');
    for (const f of [da, db, convA.ctl, convB.ctl]) await f.close();
    await sa.close();
    await sb.close();
    await l.close();
  });

  if (b.carrier === 'stack') {
    it('item 3: every TCP segment leaves with the conversation\'s ttl and tos (and UDP\'s, as before)', async () => {
      const tap = await fx().peer.frames!();
      const c = await fx().client();
      const l = await fx().peer.listen();
      const { ctl, dir } = await clone(c);
      await ctl.write('ttl 7');
      await ctl.write('tos 32');
      await ctl.write(`connect ${fx().peer.addr}!${l.port}`);
      const toListener = (f: Buffer): Ip4 | null => {
        const p = ip4(f);
        return p && p.proto === 6 && p.src === fx().addr && p.body.readUInt16BE(2) === l.port ? p : null;
      };
      const syn = toListener(await tap.next((f) => (toListener(f)?.body[13]! & 0x02) !== 0))!;
      expect([syn.ttl, syn.tos]).toEqual([7, 32]);
      const call = await l.accepted();
      const data = await c.open(`${dir}/data`, ORDWR);
      const withData = (f: Buffer): boolean => {
        const p = toListener(f);
        return p !== null && p.body.length > (p.body[12]! >> 4) * 4;
      };
      await data.write('segment one');
      const seg = toListener(await tap.next(withData))!;
      expect([seg.ttl, seg.tos]).toEqual([7, 32]);
      expect((await call.read(11)).toString()).toBe('segment one');
      // A later ttl applies to the segments after it.
      await ctl.write('ttl 9');
      await data.write('segment two');
      expect(toListener(await tap.next(withData))!.ttl).toBe(9);
      expect((await call.read(11)).toString()).toBe('segment two');
      // UDP honours them too.
      const pu = await fx().peer.udp();
      const u = await clone(c, 'udp');
      await u.ctl.write('ttl 5');
      await u.ctl.write('tos 8');
      await u.ctl.write(`connect ${fx().peer.addr}!${pu.port}`);
      const ud = await c.open(`${u.dir}/data`, ORDWR);
      await ud.write('datagram');
      const dg = ip4(await tap.next((f) => { const p = ip4(f); return p?.proto === 17 && p.body.readUInt16BE(2) === pu.port; }))!;
      expect([dg.ttl, dg.tos]).toEqual([5, 8]);
      for (const f of [ud, u.ctl, data, ctl]) await f.close();
      await pu.close();
      await call.close();
      await l.close();
      await tap.close();
    });
  }
});

interface Ip4 { ttl: number; tos: number; proto: number; src: string; body: Buffer }

/** An Ethernet frame's IPv4 header fields and payload, or null (RFC 791 §3.1). */
function ip4(f: Buffer): Ip4 | null {
  if (f.length < 34 || f.readUInt16BE(12) !== 0x0800) return null;
  const ihl = (f[14]! & 0x0f) * 4;
  const total = f.readUInt16BE(16);
  return {
    tos: f[15]!,
    ttl: f[22]!,
    proto: f[23]!,
    src: [...f.subarray(26, 30)].join('.'),
    body: f.subarray(14 + ihl, 14 + total),
  };
}
