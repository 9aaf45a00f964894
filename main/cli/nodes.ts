import type { Command } from 'commander';
export function registerNodes(program: Command): void {
  program.command('nodes').description('the nodes of the current cluster');
}
