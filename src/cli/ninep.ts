import type { Command } from 'commander';
export function addNinep(_program: Command): void {}
