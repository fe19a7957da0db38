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
  LocalSockets, announce0,
} from '../../netfs/harness.js';
import { overNet } from '../../../src/backend/over/backend.js';
import { lowerConvByPort, startOver, startUpper } from './harness.js';
import type { OverFixture } from './harness.js';
import { answerThenHangupxmit, burst, expectClosedData, requestThenReply } from '../host/scenarios.js';

const Ehungup = 'i/o on hungup channel';

let fx: OverFixture;
let echo: TcpPeer;
const local = new LocalSockets();

beforeAll(async () => {
  fx = await startOver();
  echo = await TcpPeer.echo();
});

afterAll(async () => {
  await fx.close();
  await echo.close();
  await local.close();
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

});

describe('errors pass through verbatim', () => {
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

});

describe('end of a connection', () => {
  it('last close sends FIN to the peer and frees the lower conversation', async () => {
    const p = await local.peer();
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

describe('flush', () => {
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
    local.track(p);
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
      local.track(p);
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
        const s = await local.connect(P);
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
    const p = await local.peer({ allowHalfOpen: true });
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
    const after = await answerThenHangupxmit(c, await local.peer({ allowHalfOpen: true }), (n) => fx.over.tcp.status(fx.over.tcpDir.convs[n]!));
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
