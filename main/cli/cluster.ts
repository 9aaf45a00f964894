import type { Command } from 'commander';
export function registerCluster(program: Command): void {
  program.command('cluster').description('clusters this workstation manages');
}
