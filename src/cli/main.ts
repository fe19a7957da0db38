#!/usr/bin/env node
/**
 * The 9net command: serve /net, and the client tools that use it (9p,
 * dial, listen1, con, csquery, netstat, ping, ipconfig, snoop). Errors are one
 * line on stderr and a non-zero exit; a standard output closed by its
 * reader (`9net ... | head`) ends the command quietly with status 0.
 */
import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import { addServe } from './serve.js';
import { addNinep } from './ninep.js';
import { addDial } from './dial.js';
import { addListen1 } from './listen1.js';
import { addCon } from './con.js';
import { addCsquery } from './csquery.js';
import { addNetstat } from './netstat.js';
import { addPing } from './ping.js';
import { addIpconfig } from './ipconfig.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(0);
  console.error(`9net: standard output: ${e.message}`);
  process.exit(1);
});
import { addSnoop } from './snoop.js';

const program = new Command();
program
  .name('9net')
  .description('A 9P file server presenting a Plan 9 style /net')
  .version(pkg.version, '-V, --version', 'print the version')
  .showHelpAfterError('(9net --help for usage)')
  // Lets listen1 pass options after CMD to it (listen1 ... sh -c '...').
  .enablePositionalOptions()
  .exitOverride();
addServe(program);
addNinep(program);
addDial(program);
addListen1(program);
addCon(program);
addCsquery(program);
addNetstat(program);
addPing(program);
addIpconfig(program);
addSnoop(program);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) process.exit(e.exitCode);
  console.error(`9net: ${(e as Error).message}`);
  process.exit(1);
}
