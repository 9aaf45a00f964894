import type { Command } from 'commander';
export function registerLab(program: Command): void {
  program.command('lab').description('a real local cluster of network namespaces on this machine (root)');
}
