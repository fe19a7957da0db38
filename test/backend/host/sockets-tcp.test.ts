/**
 * What only the host-socket backend's /net/tcp has to show, beyond the
 * conformance suite every backend passes (test/conformance): IPv6 peers,
 * hangupxmit on a pending connect, a host socket that closes late after
 * its conversation was recycled, the bound on what a writer may queue on
 * its socket, and calls waiting in the kernel while the table is full.
 * Loopback only; every peer is a local socket.
 */
import { SEND_QUEUE } from '../../../src/backend/host/tcp.js';
import { createHash, randomBytes } from 'node:crypto';
import type * as net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Interrupted } from '../../../src/ninep/error.js';
import { DMDIR, OREAD, ORDWR } from '../../../src/ninep/types.js';
import {
  EVE, TcpPeer, clone, closedTcpPort, errorOf, readFull, readN, readText, startNet, stuckListener, tcpConnect, waitFor,
  LocalSockets, announce0,
} from '../../netfs/harness.js';
import type { NetFixture } from '../../netfs/harness.js';
import { netGate } from '../../helpers/net-gate.js';
import { expectClosedData } from './scenarios.js';

const Ehungup = 'i/o on hungup channel';

let fx: NetFixture;
let echo: TcpPeer;
const local = new LocalSockets();

beforeAll(async () => {
  fx = await startNet();
  echo = await TcpPeer.echo();
});

afterAll(async () => {
  await fx.close();
  await echo.close();
  await local.close();
});

describe('connect', () => {
  it('dials ::1 and prints IPv6 addresses', async () => {
    const p = local.track(await TcpPeer.start((s) => s.pipe(s), {}, '::1'));
    const c = await fx.client();
    const { ctl, dir } = await clone(c);
    await ctl.write(`connect ::1!${p.port}`);
    expect(await readText(c, `${dir}/remote`)).toBe(`::1!${p.port}\n`);
    expect(await readText(c, `${dir}/local`)).toMatch(/^::1!\d+\n$/);
    const data = await c.open(`${dir}/data`, ORDWR);
    await data.write('six');
    expect((await readFull(data, 3)).toString()).toBe('six');
    await data.close();
    await ctl.close();
  });

});

describe('pending connect', () => {
  it.each(['hangup', 'hangupxmit'])('%s from another ctl fid ends a pending connect as Plan 9 does (write returns, conversation closed)', async (verb) => {
    const stuck = await stuckListener();
    try {
      const c = await fx.client();
      const { ctl, dir, n } = await clone(c);
      const p = ctl.write(`connect 127.0.0.1!${stuck.port}`);
      await waitFor(() => /^Syn_sent/.test(fx.net.tcp.status(fx.net.tcpDir.convs[n]!)), 'Syn_sent');
      const ctl2 = await c.open(`${dir}/ctl`, ORDWR);
      await ctl2.write(verb);
      // localclose → Fsconnected(s, nil): the connect write completes without error.
      // (tcpxmitclose does the same in Syn_sent.)
      await p;
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

describe('end of a connection', () => {
  it('a recycled conversation is not disturbed by its old socket closing late', async () => {
    // The peer keeps its side open after our FIN, so the old socket lingers.
    const p = await local.peer({ allowHalfOpen: true });
    const c = await fx.client();
    const first = await clone(c);
    await first.ctl.write(`connect 127.0.0.1!${p.port}`);
    const s = await p.accepted();
    const ended = new Promise<void>((r) => s.once('end', () => r()));
    await first.ctl.close();
    await ended;
    // Clone until we get the same conversation back (it is the lowest free one).
    const lowest = fx.net.tcpDir.convs.findIndex((cv) => cv.refs === 0 && cv.state === 'Idle' && !cv.queued);
    expect(lowest).toBeLessThanOrEqual(first.n);
    const held: { close(): Promise<void> }[] = [];
    let again = await clone(c);
    while (again.n !== first.n) {
      held.push(again.ctl);
      again = await clone(c);
    }
    await again.ctl.write(`connect 127.0.0.1!${echo.port}`);
    const data = await c.open(`${again.dir}/data`, ORDWR);
    // Now the old peer finally closes; our old socket sees its FIN.
    const live = fx.net.tcp.liveSockets;
    s.end();
    await waitFor(() => fx.net.tcp.liveSockets === live - 1, 'the old socket to close');
    await data.write('fresh');
    expect((await readFull(data, 5)).toString()).toBe('fresh');
    await data.close();
    await again.ctl.close();
    for (const h of held) await h.close();
  });
});

describe('flow control', () => {
  it('64 MiB toward a reader that is not reading: the writer waits, memory stays bounded, bytes arrive intact', async () => {
    const p = await local.peer();
    const c = await fx.client();
    const { ctl, dir, n } = await clone(c);
    await ctl.write(`connect 127.0.0.1!${p.port}`);
    const s = await p.accepted();
    const data = await c.open(`${dir}/data`, ORDWR);
    const MiB = 1024 * 1024;
    const total = 64 * MiB;
    const base = randomBytes(MiB);
    const sent = createHash('sha256');
    let written = 0;
    const writer = (async (): Promise<void> => {
      for (let i = 0; i < 64; i++) {
        const chunk = Buffer.from(base);
        chunk.writeUInt32BE(i, 0);
        sent.update(chunk);
        await data.write(chunk);
        written += chunk.length;
      }
    })();
    // The peer reads nothing: the server's socket fills and the write waits.
    const sock = (): net.Socket | null => (fx.net.tcpDir.convs[n]!.ptcl as { sock: net.Socket | null }).sock;
    await waitFor(() => sock()?.writableNeedDrain === true, 'the server to wait for drain', 20_000);
    expect(written).toBeLessThan(total);
    const qout = Number(/ qout (\d+) /.exec(await readText(c, `${dir}/status`))![1]);
    // Bounded: writes wait once the socket holds SEND_QUEUE bytes; one write may overshoot it.
    expect(qout).toBeLessThanOrEqual(SEND_QUEUE + MiB);
    // Now read it all.
    const got = createHash('sha256');
    let received = 0;
    const done = new Promise<void>((resolve) => {
      s.on('data', (b: Buffer) => {
        got.update(b);
        received += b.length;
        if (received >= total) resolve();
      });
    });
    await writer;
    await done;
    expect(received).toBe(total);
    expect(got.digest('hex')).toBe(sent.digest('hex'));
    await data.close();
    await ctl.close();
  }, 120_000);

});

describe('a full conversation table', () => {
  it('clone fails with no free devices; an incoming call waits for a free conversation', async () => {
    const own = await startNet({ maxTcp: 3, userQuota: 3 });
    try {
      const c = await own.client();
      const a = await clone(c);
      const P = await announce0(a.ctl, c, a.dir);
      const b = await clone(c);
      const d = await clone(c);
      expect(await errorOf(c.open('/tcp/clone', ORDWR))).toBe('no free devices');
      // No conversation for the call: it waits (accepted by the kernel, not refused).
      const waiting = await local.connect(P);
      let closed = false;
      waiting.once('close', () => { closed = true; });
      waiting.resume();
      const lp = c.open(`${a.dir}/listen`, ORDWR);
      await waitFor(() => own.net.tcpDir.convs[a.n]!.listeners.length === 1, 'the pending listen');
      // Free one: the waiting call gets it.
      await d.ctl.close();
      const l = await lp;
      expect(Number((await l.read(64, undefined, 0n)).toString())).toBe(d.n);
      expect(await readText(c, `/tcp/${d.n}/remote`)).toBe(`127.0.0.1!${waiting.localPort}\n`);
      expect(closed).toBe(false);
      await l.close();
      await b.ctl.close();
      await a.ctl.close();
    } finally {
      await own.close();
    }
  });
});

const rootGate = netGate({ root: true }, 'privileged ports as root');
describe.skipIf(rootGate.skip)('ports below 1024 when 9net runs as root', () => {
  it('are the host owner\'s: another user cannot announce, bind or connect from one (TCP and UDP)', async () => {
    const c = await fx.client('alice');
    for (const proto of ['tcp', 'udp']) {
      const a = await clone(c, proto);
      expect(await errorOf(a.ctl.write('announce 999'))).toBe('permission denied');
      expect(await errorOf(a.ctl.write('bind 999'))).toBe('permission denied');
      expect(await errorOf(a.ctl.write(`connect 127.0.0.1!${echo.port} 998`))).toBe('permission denied');
      await a.ctl.close();
    }
    const e = await fx.client(EVE);
    const x = await clone(e);
    const r = await errorOf(x.ctl.write('announce 999'));
    expect(['no error', 'address in use']).toContain(r);
    await x.ctl.close();
  });
});
rootGate.failIfRequired();
