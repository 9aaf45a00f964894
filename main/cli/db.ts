import type { Command } from 'commander';
export function registerDb(program: Command): void {
  program.command('db').description('the cluster database');
}
