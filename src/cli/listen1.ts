import type { Command } from 'commander';
export function addListen1(_program: Command): void {}
