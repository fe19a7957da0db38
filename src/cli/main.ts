#!/usr/bin/env node
/**
 * The 9net command: serve /net, and the client tools that use it
 * (9p, dial, listen1, snoop). Errors are one line on stderr and a non-zero exit.
 */
import { Command, CommanderError } from 'commander';
import { addServe } from './serve.js';
import { addNinep } from './ninep.js';
import { addDial } from './dial.js';
import { addListen1 } from './listen1.js';
import { addSnoop } from './snoop.js';

const program = new Command();
program
  .name('9net')
  .description('A 9P file server presenting a Plan 9 style /net')
  .showHelpAfterError('(9net --help for usage)')
  // Lets listen1 pass options after CMD to it (listen1 ... sh -c '...').
  .enablePositionalOptions()
  .exitOverride();
addServe(program);
addNinep(program);
addDial(program);
addListen1(program);
addSnoop(program);

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) process.exit(e.exitCode);
  console.error(`9net: ${(e as Error).message}`);
  process.exit(1);
}
