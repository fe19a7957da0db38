import type { Command } from 'commander';
export function addDial(_program: Command): void {}
