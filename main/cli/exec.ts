import type { Command } from 'commander';
import { invalid } from '../errors.js';
import type { ExecResultInfo } from '../api/contract.js';
import { checkName } from '../util/names.js';
import { sh } from '../util/quote.js';
import { EXIT, action, num, printJson } from './output.js';
import { call } from './client.js';

interface ExecCliOptions {
  nodes?: string;
  all?: boolean;
  json?: boolean;
  timeout?: string;
}

export function parseNodeList(value: string): string[] {
  const names = value.split(',').map((s) => s.trim());
  if (names.length === 0 || names.some((n) => n === '')) throw invalid('--nodes', 'must be a comma-separated list of node names', value);
  return [...new Set(names.map((n) => checkName('node', n, '--nodes')))];
}

/** Splits streamed output into whole lines, each prefixed with the node's name. */
export class LinePrefixer {
  private rest = '';
  constructor(private readonly prefix: string, private readonly write: (s: string) => void) {}
  push(chunk: string): void {
    const text = this.rest + chunk;
    const lines = text.split('\n');
    this.rest = lines.pop() ?? '';
    for (const l of lines) this.write(`${this.prefix}${l}\n`);
  }
  flush(): void {
    if (this.rest) this.write(`${this.prefix}${this.rest}\n`);
    this.rest = '';
  }
}

/**
 * 0 when every node ran the command with exit 0; 6 when a node refused us (host key changed or
 * unknown, login refused: the same on every command); 5 when no node could be reached; else 1.
 */
export function execExitCode(results: Pick<ExecResultInfo, 'code' | 'error'>[]): number {
  const trust = results.find((r) => r.error && EXIT[r.error.code as keyof typeof EXIT] === EXIT['host-key-changed']);
  if (trust) return EXIT['host-key-changed'];
  if (results.length > 0 && results.every((r) => r.error && r.error.code !== 'timeout')) return 5;
  return results.every((r) => r.code === 0 && !r.error) ? 0 : 1;
}

async function execCommand(words: string[], o: ExecCliOptions): Promise<number> {
  if (o.nodes !== undefined && o.all) throw invalid('--nodes/--all', 'give either --nodes or --all, not both');
  const targets = o.all ? 'all' as const : o.nodes !== undefined ? parseNodeList(o.nodes) : 'any' as const;
  if (words.length === 0) throw invalid('CMD', 'give the command after --');
  const results = await call('exec.run', { nodes: targets, command: sh(...words), ...(o.timeout !== undefined ? { timeoutS: num(o.timeout) as number } : {}) });
  if (o.json) {
    printJson(results);
    return execExitCode(results);
  }
  // Output is printed per node, in node order, so lines of one node stay together.
  const width = Math.max(0, ...results.map((r) => r.node.length));
  for (const r of results) {
    const prefix = `${r.node.padEnd(width)}: `;
    const out = new LinePrefixer(prefix, (t) => process.stdout.write(t));
    const err = new LinePrefixer(prefix, (t) => process.stderr.write(t));
    out.push(r.stdout);
    err.push(r.stderr);
    out.flush();
    err.flush();
  }
  for (const r of results) {
    const label = `${r.node.padEnd(width)}: `;
    if (r.error) process.stderr.write(`${label}${r.error.code === 'timeout' ? 'timed out' : EXIT[r.error.code as keyof typeof EXIT] === 6 ? 'refused' : 'unreachable'}: ${r.error.message}\n`);
    else if (r.code !== 0) process.stderr.write(`${label}exit ${r.code}${r.signal ? ` (SIG${r.signal})` : ''}\n`);
  }
  return execExitCode(results);
}

export function registerExec(program: Command): void {
  program
    .command('exec')
    .description('run a command on nodes of the current cluster in parallel; each output line is prefixed with its node')
    .argument('<cmd...>', 'the command and its arguments, after --')
    .option('--nodes <list>', 'comma-separated node names, e.g. n1,n3')
    .option('--all', 'every node of the cluster')
    .option('--json', 'print per-node results as JSON')
    .option('--timeout <seconds>', 'stop the command on a node after this many seconds')
    .addHelpText('after', `
Without --nodes or --all, any live node runs the command.
The words after -- are passed as separate arguments, each quoted: \`vlx exec --all -- echo 'a b'\`
prints "a b". For pipes, redirections or $(…) run a shell: \`vlx exec --all -- sh -c 'hostname | tr a-z A-Z'\`.
Exit status: 0 if every node succeeded, 1 if any node failed or could not be reached, 5 if no node was reached,
6 if a node's host key changed or is unknown, or it refused the login.`)
    .action(action(async (words: string[], o: ExecCliOptions) => execCommand(words, o), { timeoutS: '--timeout', nodes: '--nodes', command: 'CMD' }));
}
