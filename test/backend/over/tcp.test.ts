/**
 * /net/tcp carried by a lower 9net server (transport stacking): dialing,
 * errors passed through verbatim, announce/listen/accept, end-of-connection
 * semantics, upper permissions, Tflush of blocked reads, listens and
 * connects, ctl options forwarded, a 32 MB transfer each way, the
 * spreading of conversations over several lower connections, `hangupxmit`
 * passed down (FIN there, reads go on until the peer's FIN), EOF after a
 * failed connect (tcp.c localclose), and calls beyond the upper queue left
 * waiting at the lower server (a burst of 40 simultaneous clients).
 * Loopback only; every peer is a local socket.
 */
import { createHash, randomBytes } from 'node:crypto';
import type * as net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Interrupted } from '../../../src/ninep/error.js';
import { ORDWR, OREAD } from '../../../src/ninep/types.js';
import type { Client, File } from '../../../src/ninep/client.js';
import {
  EVE, TcpPeer, clone, closedTcpPort, errorOf, readFull, readN, readText, stuckListener, tcpConnect, waitFor,
} from '../../netfs/harness.js';
import { overNet } from '../../../src/backend/over/backend.js';
import { lowerConvByPort, startOver, startUpper } from './harness.js';
import type { OverFixture } from './harness.js';
import { answerThenHangupxmit, burst, expectClosedData, requestThenReply } from '../host/scenarios.js';

const Ehungup = 'i/o on hungup channel';

let fx: OverFixture;
let echo: TcpPeer;
const peers: TcpPeer[] = [];
const sockets: net.Socket[] = [];

async function peer(opts: net.ServerOpts = {}): Promise<TcpPeer> {
  const p = await TcpPeer.start(undefined, opts);
  peers.push(p);
  return p;
}

async function connectTo(port: number): Promise<net.Socket> {
  const s = await tcpConnect(port);
  sockets.push(s);
  return s;
}

async function announce0(ctl: File, c: Client, dir: string): Promise<number> {
  await ctl.write('announce 0');
  const m = /^::!(\d+)\n$/.exec(await readText(c, `${dir}/local`));
  expect(m).not.toBeNull();
  return Number(m![1]);
}

beforeAll(async () => {
  fx = await startOver();
  echo = await TcpPeer.echo();
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await fx.close();
  await echo.close();
  for (const p of peers) await p.close();
});

describe('dial through the upper /net', () => {
  it('clone, connect, data both ways; local/remote/status; one lower conversation behind it', async () => {
    const c = await fx.client('alice');
    const { ctl, dir, n } = await clone(c);
    const ls = await c.ls('/');
    expect(ls.map((d) => d.name)).toEqual(['tcp', 'udp', 'ndb', 'cs', 'dns']);
    expect((await c.stat(`${dir}/ctl`)).uid).toBe('alice');
    // Nothing below yet: the lower conversation is opened by the connect.
    expect(fx.over.tcp.status(fx.over.tcpDir.convs[n]!)).toMatch(/^Closed /);
    await ctl.write(`connect 127.0.0.1!${echo.port}`);
    const data = await c.open(`${dir}/data`, ORDWR);
    expect(await readText(c, `${dir}/status`)).toMatch(/^Established qin 0 /);
    expect(await readText(c, `${dir}/remote`)).toBe(`127.0.0.1!${echo.port}\n`);
    const local = await readText(c, `${dir}/local`);
    expect(local).toMatch(/^127\.0\.0\.1!([1-9]\d*)\n$/);
    // The lower conversation: same addresses, owned by the upper's lower user.
    const lport = Number(/!(\d+)\n$/.exec(local)![1]);
    const ln = lowerConvByPort(fx, 'tcp', lport);
    expect(ln).toBeGreaterThanOrEqual(0);
    const lc = fx.lower.net.tcpDir.convs[ln]!;
    expect(lc.owner).toBe(EVE);
    expect(lc.state).toBe('Connected');
    expect(lc.rport).toBe(echo.port);
    await data.write('hello, echo');
    expect((await readFull(data, 11)).toString()).toBe('hello, echo');
    await data.close();
    await ctl.close();
    // The last upper close closes the lower conversation.
    await waitFor(() => lc.refs === 0, 'the lower conversation closed');
  });

  it('data opened before connect blocks, then reads what arrives (G7)', async () => {
    const p = await peer();
    const c = await fx.client();
    const { ctl, dir } = await clone(c);
    const data = await c.open(`${dir}/data`, ORDWR);
    const r = data.read(100);
    await ctl.write(`connect 127.0.0.1!${p.port}`);
    const s = await p.accepted();
    s.write('late');
    expect((await r).toString()).toBe('late');
    await data.close();
    await ctl.close();
  });
});

describe('errors pass through verbatim', () => {
  it('connection refused, connection in use, address syntax and port errors', async () => {
    const c = await fx.client();
    const { ctl } = await clone(c);
    const port = await closedTcpPort();
    expect(await errorOf(ctl.write(`connect 127.0.0.1!${port}`))).toBe('connection refused');
    expect(await errorOf(ctl.write(`connect 127.0.0.1!${echo.port}`))).toBe('connection in use');
    expect(await errorOf(ctl.write('announce 0'))).toBe('connection in use');
    await ctl.close();
    const b = await clone(c);
    expect(await errorOf(b.ctl.write('connect localhost!80'))).toBe('bad ip address syntax');
    expect(await errorOf(b.ctl.write('connect 127.0.0.1'))).toBe('malformed address');
    expect(await errorOf(b.ctl.write('connect 127.0.0.1!http'))).toBe('bad numeric port');
    expect(await errorOf(b.ctl.write('connect a b c d'))).toBe('bad args to connect');
    expect(await errorOf(b.ctl.write(''))).toBe('short control request');
    // From the lower server: its protocol verbs and its idea of local addresses.
    expect(await errorOf(b.ctl.write('bogus'))).toBe('unknown control request');
    expect(await errorOf(b.ctl.write('keepalive'))).toBe('connection must be in Establised state');
    expect(await errorOf(b.ctl.write('announce 192.0.2.254!80'))).toBe('not a local IP address');
    expect(await readText(c, `/tcp/${(await b.ctl.read(64, undefined, 0n)).toString()}/status`)).toMatch(/^Closed /);
    await b.ctl.close();
    const z = await clone(c);
    expect(await errorOf(z.ctl.write('connect 127.0.0.1!0'))).toBe('connection refused');
    await z.ctl.close();
  });

  it('a port announced twice is address in use (the lower decides)', async () => {
    const c = await fx.client();
    const a = await clone(c);
    const P = await announce0(a.ctl, c, a.dir);
    const b = await clone(c);
    expect(await errorOf(b.ctl.write(`announce ${P}`))).toBe('address in use');
    // The failed announce left b Idle.
    await announce0(b.ctl, c, b.dir);
    await b.ctl.close();
    await a.ctl.close();
  });

  it('announce * is for eve only: the upper checks its own users', async () => {
    const c = await fx.client('alice');
    const { ctl } = await clone(c);
    expect(await errorOf(ctl.write('announce *'))).toBe('permission denied');
    await ctl.close();
    const e = await fx.client(EVE);
    const a = await clone(e);
    await a.ctl.write('announce *');
    expect(await readText(e, `${a.dir}/status`)).toMatch(/^Listen /);
    await a.ctl.close();
  });
});

describe('announce, listen, accept', () => {
  it('a call through the lower listen becomes an upper conversation', async () => {
    const c = await fx.client('alice');
    const a = await clone(c);
    const P = await announce0(a.ctl, c, a.dir);
    expect(await readText(c, `${a.dir}/remote`)).toBe('::!0\n');
    expect(await readText(c, `${a.dir}/status`)).toMatch(/^Listen /);
    const lp = c.open(`${a.dir}/listen`, ORDWR);
    const client = await connectTo(P);
    const lctl = await lp;
    const M = Number((await lctl.read(64, undefined, 0n)).toString());
    expect(M).not.toBe(a.n);
    expect(lctl.qid.path).toBe((await c.stat(`/tcp/${M}/ctl`)).qid.path);
    expect(await readText(c, `/tcp/${M}/local`)).toBe(`127.0.0.1!${P}\n`);
    expect(await readText(c, `/tcp/${M}/remote`)).toBe(`127.0.0.1!${client.localPort}\n`);
    expect(await readText(c, `/tcp/${M}/status`)).toMatch(/^Established /);
    expect((await c.stat(`/tcp/${M}`)).uid).toBe('alice');
    expect(await errorOf(lctl.write(`accept ${M}`))).toBe('unknown control request');
    const data = await c.open(`/tcp/${M}/data`, ORDWR);
    client.write('ping');
    expect((await readFull(data, 4)).toString()).toBe('ping');
    await data.write('pong');
    expect((await readN(client, 4)).toString()).toBe('pong');
    // A second call on the same announcement, queued before the listen.
    const client2 = await connectTo(P);
    await waitFor(() => fx.over.tcpDir.convs[a.n]!.incall.length === 1, 'the queued call');
    const l2 = await c.open(`${a.dir}/listen`, ORDWR);
    const M2 = Number((await l2.read(64, undefined, 0n)).toString());
    expect(await readText(c, `/tcp/${M2}/remote`)).toBe(`127.0.0.1!${client2.localPort}\n`);
    const ended = new Promise<void>((r) => client.once('end', () => r()));
    await data.close();
    await lctl.close();
    await ended;
    await l2.close();
    await a.ctl.close();
  });

  it('hangup on the announce ctl wakes a pending listen with listen hungup, and later listens too', async () => {
    const c = await fx.client();
    const a = await clone(c);
    await announce0(a.ctl, c, a.dir);
    const lp = c.open(`${a.dir}/listen`, ORDWR);
    await waitFor(() => fx.over.tcpDir.convs[a.n]!.listeners.length === 1, 'the pending listen');
    await a.ctl.write('hangup');
    expect(await errorOf(lp)).toBe('listen hungup');
    expect(await errorOf(c.open(`${a.dir}/listen`, ORDWR))).toBe('listen hungup');
    expect(await readText(c, `${a.dir}/status`)).toMatch(/^Closed /);
    await a.ctl.close();
  });
});

describe('end of a connection', () => {
  it('peer FIN: the data, three 0-byte reads, then i/o on hungup channel; Close_wait still writes', async () => {
    const p = await peer({ allowHalfOpen: true });
    const c = await fx.client();
    const { ctl, dir } = await clone(c);
    await ctl.write(`connect 127.0.0.1!${p.port}`);
    const data = await c.open(`${dir}/data`, ORDWR);
    const s = await p.accepted();
    s.end('last words');
    expect((await readFull(data, 10)).toString()).toBe('last words');
    for (let i = 0; i < 3; i++) expect((await data.read(100)).length).toBe(0);
    expect(await errorOf(data.read(100))).toBe(Ehungup);
    expect(await readText(c, `${dir}/status`)).toMatch(/^Close_wait /);
    await data.write('still here');
    expect((await readN(s, 10)).toString()).toBe('still here');
    await data.close();
    await ctl.close();
  });

  it('peer RST: reads give EOF, writes fail', async () => {
    const p = await peer();
    const c = await fx.client();
    const { ctl, dir } = await clone(c);
    await ctl.write(`connect 127.0.0.1!${p.port}`);
    const data = await c.open(`${dir}/data`, ORDWR);
    const s = await p.accepted();
    s.resetAndDestroy();
    for (let i = 0; i < 3; i++) expect((await data.read(100)).length).toBe(0);
    expect(await errorOf(data.read(100))).toBe(Ehungup);
    expect(await errorOf(data.write('x'))).toBe(Ehungup);
    expect(await readText(c, `${dir}/status`)).toMatch(/^Closed /);
    await data.close();
    await ctl.close();
  });

  it('hangup ctl: RST to the peer, EOF to readers, writes fail, the conversation stays until closed', async () => {
    const p = await peer();
    const c = await fx.client();
    const { ctl, dir, n } = await clone(c);
    await ctl.write(`connect 127.0.0.1!${p.port}`);
    const data = await c.open(`${dir}/data`, ORDWR);
    const s = await p.accepted();
    const reset = new Promise<string | undefined>((r) => s.once('error', (e: NodeJS.ErrnoException) => r(e.code)));
    await ctl.write('hangup');
    expect(await reset).toBe('ECONNRESET');
    expect((await data.read(10)).length).toBe(0);
    expect(await errorOf(data.write('x'))).toBe(Ehungup);
    expect(await readText(c, `${dir}/status`)).toMatch(/^Closed /);
    expect(fx.over.tcpDir.convs[n]!.refs).toBe(2);
    await data.close();
    await ctl.close();
    expect(fx.over.tcpDir.convs[n]!.refs).toBe(0);
  });

  it('last close sends FIN to the peer and frees the lower conversation', async () => {
    const p = await peer();
    const c = await fx.client();
    const { ctl, dir } = await clone(c);
    await ctl.write(`connect 127.0.0.1!${p.port}`);
    const data = await c.open(`${dir}/data`, ORDWR);
    const s = await p.accepted();
    const ended = new Promise<void>((r) => s.once('end', () => r()));
    await ctl.close();
    await data.write('x');
    expect((await readN(s, 1)).toString()).toBe('x');
    await data.close();
    await ended;
    expect((await c.stat(dir)).uid).toBe('network');
  });
});

describe('upper permissions', () => {
  it('another upper user gets permission denied on alice\'s conversation; eve passes', async () => {
    const alice = await fx.client('alice');
    const bob = await fx.client('bob');
    const eve = await fx.client(EVE);
    const { ctl, dir } = await clone(alice);
    await ctl.write(`connect 127.0.0.1!${echo.port}`);
    expect(await errorOf(bob.open(`${dir}/data`, ORDWR))).toBe('permission denied');
    expect(await errorOf(bob.open(`${dir}/ctl`, ORDWR))).toBe('permission denied');
    expect(await errorOf(bob.open(`${dir}/data`, OREAD))).toBe('permission denied');
    // Everyone may read local, remote, status.
    expect(await readText(bob, `${dir}/remote`)).toBe(`127.0.0.1!${echo.port}\n`);
    const ed = await eve.open(`${dir}/data`, ORDWR);
    await ed.write('eve');
    expect((await readFull(ed, 3)).toString()).toBe('eve');
    await ed.close();
    // All lower conversations belong to the one lower user, whoever the upper user is.
    await ctl.close();
  });
});

describe('flush', () => {
  it('a blocked data read is flushed; nothing is lost', async () => {
    const p = await peer();
    const c = await fx.client();
    const { ctl, dir } = await clone(c);
    await ctl.write(`connect 127.0.0.1!${p.port}`);
    const data = await c.open(`${dir}/data`, ORDWR);
    const s = await p.accepted();
    const ac = new AbortController();
    const r = data.read(100, ac.signal);
    ac.abort();
    await expect(r).rejects.toBeInstanceOf(Interrupted);
    s.write('after the flush');
    expect((await readFull(data, 15)).toString()).toBe('after the flush');
    await data.close();
    await ctl.close();
  });

  it('a blocked listen is flushed; the announcement still takes calls', async () => {
    const c = await fx.client();
    const a = await clone(c);
    const P = await announce0(a.ctl, c, a.dir);
    const ac = new AbortController();
    const lp = c.open(`${a.dir}/listen`, ORDWR, ac.signal);
    await waitFor(() => fx.over.tcpDir.convs[a.n]!.listeners.length === 1, 'the pending listen');
    ac.abort();
    await expect(lp).rejects.toBeInstanceOf(Interrupted);
    expect(fx.over.tcpDir.convs[a.n]!.listeners.length).toBe(0);
    const lp2 = c.open(`${a.dir}/listen`, ORDWR);
    const client = await connectTo(P);
    const lctl = await lp2;
    const M = Number((await lctl.read(64, undefined, 0n)).toString());
    expect(await readText(c, `/tcp/${M}/remote`)).toBe(`127.0.0.1!${client.localPort}\n`);
    await lctl.close();
    await a.ctl.close();
  });

  it('a connect pending at the lower server is flushed there; the conversation stays in use', async () => {
    const stuck = await stuckListener();
    try {
      const c = await fx.client();
      const { ctl, dir, n } = await clone(c);
      const ac = new AbortController();
      const p = ctl.write(`connect 127.0.0.1!${stuck.port}`, ac.signal);
      const lowerSynSent = (): boolean =>
        fx.lower.net.tcpDir.convs.some((cv) => cv.rport === stuck.port && /^Syn_sent/.test(fx.lower.net.tcp.status(cv)));
      await waitFor(lowerSynSent, 'the lower connect in Syn_sent');
      expect(await readText(c, `${dir}/status`)).toMatch(/^Syn_sent /);
      ac.abort();
      await expect(p).rejects.toBeInstanceOf(Interrupted);
      await waitFor(() => !lowerSynSent(), 'the lower connect abandoned');
      expect(await errorOf(ctl.write(`connect 127.0.0.1!${echo.port}`))).toBe('connection in use');
      // The upper conversation is closed, as tcp.c's localclose does.
      await expectClosedData(c, dir);
      await ctl.close();
      expect(fx.over.tcpDir.convs[n]!.refs).toBe(0);
    } finally {
      await stuck.close();
    }
  });
});

describe('hangup of a pending connect', () => {
  it.each(['hangup', 'hangupxmit'])('%s from another ctl fid ends a connect pending at the lower server: the write returns, the conversation is closed', async (verb) => {
    const stuck = await stuckListener();
    try {
      const c = await fx.client();
      const { ctl, dir } = await clone(c);
      const p = ctl.write(`connect 127.0.0.1!${stuck.port}`);
      await waitFor(
        () => fx.lower.net.tcpDir.convs.some((cv) => cv.rport === stuck.port && /^Syn_sent/.test(fx.lower.net.tcp.status(cv))),
        'the lower connect in Syn_sent',
      );
      const ctl2 = await c.open(`${dir}/ctl`, ORDWR);
      await ctl2.write(verb);
      await p;
      expect(await readText(c, `${dir}/status`)).toMatch(/^Closed /);
      const data = await c.open(`${dir}/data`, ORDWR);
      expect((await data.read(10)).length).toBe(0);
      expect(await errorOf(data.write('x'))).toBe(Ehungup);
      await data.close();
      await ctl2.close();
      await ctl.close();
    } finally {
      await stuck.close();
    }
  });
});

describe('options and stats', () => {
  it('ttl and tos reach the lower conversation, before and after it exists', async () => {
    const c = await fx.client();
    const { ctl, dir } = await clone(c);
    await ctl.write('ttl 64');
    await ctl.write(`connect 127.0.0.1!${echo.port}`);
    const lport = Number(/!(\d+)\n$/.exec(await readText(c, `${dir}/local`))![1]);
    const lc = fx.lower.net.tcpDir.convs[lowerConvByPort(fx, 'tcp', lport)]!;
    expect(lc.ttl).toBe(64);
    await ctl.write('tos 16');
    expect(lc.tos).toBe(16);
    await ctl.write('keepalive 1000');
    await ctl.close();
  });

  it('stats: the upper\'s own 28 TCP counters', async () => {
    const c = await fx.client();
    const lines = (await readText(c, '/tcp/stats')).split('\n').filter((l) => l !== '');
    expect(lines).toHaveLength(28);
    expect(lines[0]).toBe('MaxConn: 1024');
    expect(Number(/ActiveOpens: (\d+)/.exec(lines.join('\n'))![1])).toBeGreaterThan(0);
  });
});

describe('bulk', () => {
  it('32 MB each way at once, sha256-checked', async () => {
    const N = 32 * 1024 * 1024;
    const up = randomBytes(N);
    const down = randomBytes(N);
    const peerSide: { received?: Promise<string> } = {};
    const p = await TcpPeer.start((s) => {
      const h = createHash('sha256');
      let got = 0;
      peerSide.received = new Promise((resolve) => {
        s.on('data', (b: Buffer) => {
          h.update(b);
          got += b.length;
          if (got === N) resolve(h.digest('hex'));
        });
      });
      s.write(down);
    });
    peers.push(p);
    const c = await fx.client();
    const { ctl, dir } = await clone(c);
    await ctl.write(`connect 127.0.0.1!${p.port}`);
    const data = await c.open(`${dir}/data`, ORDWR);
    const reader = (async () => {
      const h = createHash('sha256');
      let got = 0;
      while (got < N) {
        const b = await data.read(data.iounit);
        if (b.length === 0) throw new Error(`EOF after ${got} bytes`);
        h.update(b);
        got += b.length;
      }
      return h.digest('hex');
    })();
    const writer = (async () => {
      for (let o = 0; o < N; o += 1024 * 1024) await data.write(up.subarray(o, o + 1024 * 1024));
    })();
    const [gotDown] = await Promise.all([reader, writer]);
    expect(gotDown).toBe(createHash('sha256').update(down).digest('hex'));
    await waitFor(() => peerSide.received !== undefined, 'the peer');
    expect(await peerSide.received).toBe(createHash('sha256').update(up).digest('hex'));
    await data.close();
    await ctl.close();
  }, 120_000);
});

describe('stacked twice', () => {
  it('C over B over A: a conversation in C reaches a host listener, 10 MB byte-exact each way', async () => {
    const b = await overNet({ eve: EVE, lower: `tcp!127.0.0.1!${fx.upper.port}` });
    const bServer = await startUpper(() => b.tree);
    const cNet = await overNet({ eve: EVE, lower: `tcp!127.0.0.1!${bServer.port}` });
    const cServer = await startUpper(() => cNet.tree);
    try {
      const N = 10 * 1024 * 1024;
      const up = randomBytes(N);
      const down = randomBytes(N);
      const got: Buffer[] = [];
      const finished: { resolve?: () => void } = {};
      const done = new Promise<void>((resolve) => { finished.resolve = resolve; });
      const p = await TcpPeer.start((s) => {
        let n = 0;
        s.on('data', (d: Buffer) => {
          got.push(d);
          n += d.length;
          if (n === N) finished.resolve!();
        });
        s.write(down);
      });
      peers.push(p);
      const c = await cServer.client('alice');
      const { ctl, dir } = await clone(c);
      await ctl.write(`connect 127.0.0.1!${p.port}`);
      expect(await readText(c, `${dir}/remote`)).toBe(`127.0.0.1!${p.port}\n`);
      const data = await c.open(`${dir}/data`, ORDWR);
      const [fromPeer] = await Promise.all([
        readFull(data, N),
        (async () => {
          for (let o = 0; o < N; o += 256 * 1024) await data.write(up.subarray(o, o + 256 * 1024));
        })(),
      ]);
      await done;
      expect(fromPeer.equals(down)).toBe(true);
      expect(Buffer.concat(got).equals(up)).toBe(true);
      await data.close();
      await ctl.close();
    } finally {
      await cServer.close();
      await cNet.close();
      await bServer.close();
      await b.close();
    }
  }, 120_000);
});

describe('several lower connections', () => {
  it('conversations spread over lower connections when one is full; calls too', async () => {
    const small = await startOver({}, { connLoad: 4 });
    try {
      const c = await small.client();
      const convs: { ctl: File; data: File }[] = [];
      for (let i = 0; i < 5; i++) {
        const { ctl, dir } = await clone(c);
        await ctl.write(`connect 127.0.0.1!${echo.port}`);
        convs.push({ ctl, data: await c.open(`${dir}/data`, ORDWR) });
      }
      expect(small.over.lowerConnections).toBeGreaterThanOrEqual(3);
      for (const [i, { data }] of convs.entries()) await data.write(`conv ${i}`);
      for (const [i, { data }] of convs.entries()) expect((await readFull(data, 6)).toString()).toBe(`conv ${i}`);
      // Calls: their ctl stays where the listen was, their data goes where there is room.
      const a = await clone(c);
      const P = await announce0(a.ctl, c, a.dir);
      for (let i = 0; i < 3; i++) {
        const lp = c.open(`${a.dir}/listen`, ORDWR);
        const s = await connectTo(P);
        const lctl = await lp;
        const M = Number((await lctl.read(64, undefined, 0n)).toString());
        const d = await c.open(`/tcp/${M}/data`, ORDWR);
        s.write(`call ${i}`);
        expect((await readFull(d, 6)).toString()).toBe(`call ${i}`);
        await d.write('back');
        expect((await readN(s, 4)).toString()).toBe('back');
        await d.close();
        await lctl.close();
      }
      await a.ctl.close();
      for (const { ctl, data } of convs) {
        await data.close();
        await ctl.close();
      }
    } finally {
      await small.close();
    }
  });
});

describe('hangupxmit through the lower /net', () => {
  it('reaches the lower conversation: FIN to the peer, the reply still read, then EOF', async () => {
    const p = await peer({ allowHalfOpen: true });
    const c = await fx.client();
    let lowerState = '';
    p.server.once('connection', (s) => {
      s.once('end', () => {
        const ln = lowerConvByPort(fx, 'tcp', s.remotePort!);
        lowerState = fx.lower.net.tcp.status(fx.lower.net.tcpDir.convs[ln]!);
      });
    });
    const dir = await requestThenReply(c, p);
    expect(lowerState).toMatch(/^Finwait1 /);
    expect(await readText(c, `${dir}/status`)).toMatch(/^Closed /);
  });

  it('in Close_wait: the answer and our FIN reach the peer, the conversation is Closed at once', async () => {
    const c = await fx.client();
    const after = await answerThenHangupxmit(c, await peer({ allowHalfOpen: true }), (n) => fx.over.tcp.status(fx.over.tcpDir.convs[n]!));
    expect(after).toMatch(/^Closed /);
  });

  it('on an idle conversation it opens nothing below', async () => {
    const c = await fx.client();
    const { ctl, n } = await clone(c);
    const lower0 = fx.lower.net.tcpDir.convs.filter((cv) => cv.refs > 0).length;
    await ctl.write('hangupxmit');
    expect(fx.lower.net.tcpDir.convs.filter((cv) => cv.refs > 0).length).toBe(lower0);
    expect(fx.over.tcp.status(fx.over.tcpDir.convs[n]!)).toMatch(/^Closed /);
    await ctl.close();
  });
});

describe('reads after a failed connect', () => {
  it('connection refused at the lower server: EOF at once', async () => {
    const c = await fx.client();
    const { ctl, dir } = await clone(c);
    expect(await errorOf(ctl.write(`connect 127.0.0.1!${await closedTcpPort()}`))).toBe('connection refused');
    await expectClosedData(c, dir);
    await ctl.close();
  });
});

describe('calls beyond the upper queue wait at the lower server', () => {
  it('a burst of 40 simultaneous clients: all delivered by the upper listen, none reset', async () => {
    const c = await fx.client();
    await burst(c, { count: 40, queued: (n) => fx.over.tcpDir.convs[n]!.incall.length });
  }, 60_000);

  it('with backlog 8 above, all 40 complete; meanwhile the rest wait in the lower queue', async () => {
    const c = await fx.client();
    let lowerWaiting = 0;
    await burst(c, {
      count: 40,
      backlog: 8,
      queued: (n) => fx.over.tcpDir.convs[n]!.incall.length,
      sample: (port) => {
        const ln = fx.lower.net.tcpDir.convs.findIndex((cv) => cv.state === 'Announced' && cv.lport === port);
        if (ln >= 0) lowerWaiting = Math.max(lowerWaiting, fx.lower.net.tcpDir.convs[ln]!.incall.length);
      },
    });
    expect(lowerWaiting).toBeGreaterThan(0);
  }, 60_000);
});
