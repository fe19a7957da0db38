/** `9net serve`: serve /net over 9P. */
import type { Command } from 'commander';
import type { AddressInfo } from 'node:net';
import { hostNet } from '../host/backend.js';
import { Server } from '../ninep/server.js';
import { DEFAULT_ADDRESS, formatAddress, parseAddress } from '../ninep/transport.js';
import { currentUser } from './common.js';

interface ServeFlags {
  listen: string[];
  eve?: string;
  trace?: boolean;
}

export function addServe(program: Command): void {
  program
    .command('serve')
    .description('serve /net over 9P (default backend: the host\'s sockets)')
    .option('-l, --listen <addr>', `where to listen: tcp!host!port, unix!/path, or - for stdin/stdout (repeatable; default ${DEFAULT_ADDRESS})`, (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--eve <user>', 'host owner: passes every conversation permission check (default: the user running 9net)')
    .option('--trace', 'print every 9P message on stderr')
    .action(async (flags: ServeFlags) => {
      const eve = flags.eve ?? currentUser();
      const net = hostNet({ eve });
      const server = new Server({
        root: (aname) => (aname === '' || aname === '/' || aname === 'net' ? net.root : null),
        trace: flags.trace ?? false,
        log: (l) => console.error(`9net: ${l}`),
      });
      const addrs = (flags.listen.length ? flags.listen : [DEFAULT_ADDRESS]).map(parseAddress);
      for (const a of addrs) {
        if (a.kind === 'stdio') {
          const c = server.serve(process.stdin, process.stdout, 'stdio');
          c.onClose(() => process.exit(0));
        } else {
          const srv = await server.listen(a);
          // Report the port actually bound (port 0 asks the OS for one).
          const bound = a.kind === 'tcp' ? { ...a, port: (srv.address() as AddressInfo).port } : a;
          console.error(`9net: serving /net (host sockets) on ${formatAddress(bound)}`);
        }
      }
      const stop = (): void => {
        void server.close().then(() => process.exit(0));
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
    });
}
