/**
 * Fixtures for the transport-stacking tests: a lower 9net server on the
 * host backend (127.0.0.1, port chosen by the OS), an upper server whose
 * /net is carried by it (src/over), and clients of the upper server.
 */
import type * as net from 'node:net';
import { overNet } from '../../../src/backend/over/backend.js';
import type { OverNet, OverNetOptions } from '../../../src/backend/over/backend.js';
import type { HostNetOptions } from '../../../src/backend/host/backend.js';
import { Client } from '../../../src/ninep/client.js';
import type { ConnectionLimits } from '../../../src/ninep/connection.js';
import type { Node } from '../../../src/ninep/node.js';
import { Server } from '../../../src/ninep/server.js';
import { parseAddress } from '../../../src/ninep/transport.js';
import { EVE, startNet } from '../../netfs/harness.js';
import type { NetFixture } from '../../netfs/harness.js';

export interface UpperFixture {
  server: Server;
  port: number;
  logs: string[];
  client(uname?: string, aname?: string): Promise<Client>;
  close(): Promise<void>;
}

/** A 9P server on 127.0.0.1 serving `root(aname)`; close() fails if it logged internal errors. */
export async function startUpper(root: (aname: string) => Node | null, limits: Partial<ConnectionLimits> = {}): Promise<UpperFixture> {
  const logs: string[] = [];
  const server = new Server({ root: (aname) => root(aname), log: (l) => logs.push(l), limits });
  const lsn = await server.listen(parseAddress('tcp!127.0.0.1!0') as Exclude<ReturnType<typeof parseAddress>, { kind: 'stdio' }>);
  const port = (lsn.address() as net.AddressInfo).port;
  const clients: Client[] = [];
  return {
    server,
    port,
    logs,
    async client(uname = 'alice', aname = ''): Promise<Client> {
      const c = await Client.dial(`tcp!127.0.0.1!${port}`, { uname, aname });
      clients.push(c);
      return c;
    },
    async close(): Promise<void> {
      for (const c of clients) c.close();
      await server.close();
      const internal = logs.filter((l) => l.includes('internal error') || l.includes('clunk:'));
      if (internal.length > 0) throw new Error(`the upper server logged internal errors:\n${internal.join('\n')}`);
    },
  };
}

export interface OverFixture {
  /** The lower server (host sockets). */
  lower: NetFixture;
  over: OverNet;
  upper: UpperFixture;
  /** What the over-backend logged. */
  overLogs: string[];
  client(uname?: string): Promise<Client>;
  close(): Promise<void>;
}

export async function startOver(lowerOpts: Partial<HostNetOptions> = {}, overOpts: Partial<OverNetOptions> = {}): Promise<OverFixture> {
  const lower = await startNet(lowerOpts);
  const overLogs: string[] = [];
  const over = await overNet({ eve: EVE, lower: `tcp!127.0.0.1!${lower.port}`, log: (l) => overLogs.push(l), ...overOpts });
  const upper = await startUpper(() => over.tree);
  return {
    lower,
    over,
    upper,
    overLogs,
    client: (uname = 'alice') => upper.client(uname),
    async close(): Promise<void> {
      await upper.close();
      await over.close();
      await lower.close();
    },
  };
}

/** The lower conversation whose remote or local port is `port`. */
export function lowerConvByPort(fx: OverFixture, proto: 'tcp' | 'udp', port: number): number {
  const dir = proto === 'tcp' ? fx.lower.net.tcpDir : fx.lower.net.udpDir;
  return dir.convs.findIndex((c) => c.refs > 0 && (c.rport === port || c.lport === port));
}
