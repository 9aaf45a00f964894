import type { Command } from 'commander';
import { VlxError, invalid } from '../errors.js';
import type { NodeExecResult } from '../ssh/session.types.js';
import { withCurrentCluster } from '../ssh/session.js';
import { checkInt, checkName } from '../util/names.js';
import { sh } from '../util/quote.js';
import { action, printJson } from './output.js';

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

/** 0 when every node ran the command with exit 0; 5 when no node could be reached; else 1. */
export function execExitCode(results: Pick<NodeExecResult, 'code' | 'error'>[]): number {
  if (results.length > 0 && results.every((r) => r.error && r.error.code !== 'timeout')) return 5;
  return results.every((r) => r.code === 0 && !r.error) ? 0 : 1;
}

async function execCommand(words: string[], o: ExecCliOptions): Promise<number> {
  if (o.nodes !== undefined && o.all) throw invalid('--nodes/--all', 'give either --nodes or --all, not both');
  const targets = o.all ? 'all' : o.nodes !== undefined ? parseNodeList(o.nodes) : undefined;
  const timeoutMs = o.timeout === undefined ? undefined : checkInt(o.timeout, '--timeout', 1, 86_400) * 1000;
  if (words.length === 0) throw invalid('CMD', 'give the command after --');
  const command = sh(...words);

  return withCurrentCluster(async (session) => {
    const width = Math.max(...session.nodes().map((n) => n.name.length));
    const streams = new Map<string, { out: LinePrefixer; err: LinePrefixer }>();
    const streamsFor = (node: string) => {
      let s = streams.get(node);
      if (!s) {
        const prefix = `${node.padEnd(width)}: `;
        s = { out: new LinePrefixer(prefix, (t) => process.stdout.write(t)), err: new LinePrefixer(prefix, (t) => process.stderr.write(t)) };
        streams.set(node, s);
      }
      return s;
    };

    let results: NodeExecResult[];
    if (targets === undefined) {
      // No nodes named: any live node runs it (the one used last, if it still answers).
      const started = performance.now();
      const r = await session.execAny(command, { timeoutMs }).catch((e: unknown): NodeExecResult => {
        const c = session.currentNode ? session.nodes().find((n) => n.name === session.currentNode) : undefined;
        if (c && e instanceof VlxError && e.code === 'timeout') {
          return { node: c.name, address: c.address, code: -1, stdout: '', stderr: '', error: { code: e.code, message: e.message }, ms: performance.now() - started };
        }
        throw e;
      });
      results = [{ ...r, ms: performance.now() - started }];
    } else {
      results = await session.onNodes(targets, command, { timeoutMs });
    }
    if (!o.json) {
      // Output is printed per node, in node order, so lines of one node stay together.
      for (const r of results) {
        const s = streamsFor(r.node);
        s.out.push(r.stdout);
        s.err.push(r.stderr);
      }
    }

    for (const s of streams.values()) {
      s.out.flush();
      s.err.flush();
    }
    if (o.json) {
      printJson(results.map((r) => ({ node: r.node, address: r.address, code: r.code, stdout: r.stdout, stderr: r.stderr, ms: Math.round(r.ms), ...(r.signal ? { signal: r.signal } : {}), ...(r.error ? { error: r.error } : {}) })));
    } else {
      for (const r of results) {
        const label = `${r.node.padEnd(width)}: `;
        if (r.error) process.stderr.write(`${label}${r.error.code === 'timeout' ? 'timed out' : 'unreachable'}: ${r.error.message}\n`);
        else if (r.code !== 0) process.stderr.write(`${label}exit ${r.code}${r.signal ? ` (SIG${r.signal})` : ''}\n`);
      }
    }
    return execExitCode(results);
  });
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
Exit status: 0 if every node succeeded, 1 if any node failed or could not be reached, 5 if no node was reached.`)
    .action(action(async (words: string[], o: ExecCliOptions) => execCommand(words, o)));
}
