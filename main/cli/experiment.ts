import type { Command } from 'commander';
import { writeFileSync } from 'node:fs';
import { EXPERIMENT_KINDS, EXPERIMENT_SECONDS, ratios, type ExperimentRow, type ExperimentRunInfo } from '../api/contract.js';
import { VlxError } from '../errors.js';
import { action, printJson } from './output.js';
import { call, runTask } from './client.js';

const FLAGS = { kind: 'KIND', vc: '--vc', seconds: '--seconds', outside: '--outside', id: 'ID', ids: 'ID' };

function runLine(r: ExperimentRunInfo): string {
  const placement = Object.entries(r.placement).map(([vm, n]) => `${vm}@${n}`).join(' ');
  return `${String(r.id).padStart(4)}  ${r.kind.padEnd(11)} ${r.vc.padEnd(12)} ${String(r.vcSize).padStart(2)} VMs  ${r.accel}  ${r.image.padEnd(12)} ${r.startedAt.replace('T', ' ').slice(0, 19)}  ${r.values} values  ${placement}`;
}

/** The probe column as wide as its longest name (at least 10), so the values line up. */
const probeWidth = (names: string[]): number => Math.max(10, ...names.map((n) => n.length));

function valueLines(rows: ExperimentRow[]): string[] {
  const w = probeWidth(rows.map((r) => r.probe));
  return rows.map((r) => `  ${r.probe.padEnd(w)} ${r.target.padEnd(20)} ${(r.param ? `${r.param} B` : '').padStart(9)}  ${r.value.toPrecision(5).padStart(12)} ${r.unit}`);
}

/** os-overhead: VM over node; storage: the overlay's share of raw (the report quotes ~75% for its iSCSI path). */
function ratioLines(kind: string, rows: ExperimentRow[]): string[] {
  const pairs = kind === 'os-overhead' ? ratios(rows, 'vm', 'node') : kind === 'storage' ? ratios(rows, 'vm overlay', 'node raw') : [];
  if (pairs.length === 0) return [];
  const what = kind === 'os-overhead' ? 'vm / node' : 'vm overlay / node raw';
  const w = probeWidth(pairs.map((p) => p.probe));
  return [`${what}:`, ...pairs.map((p) => `  ${p.probe.padEnd(w)} ${(p.ratio * 100).toFixed(1)}%`)];
}

function parseIds(ids: string[]): number[] {
  return ids.map((s) => {
    if (!/^\d{1,9}$/.test(s) || Number(s) < 1) throw new VlxError('invalid-input', `ID: must be a run id, a whole number from 1 (got ${JSON.stringify(s)})`);
    return Number(s);
  });
}

export function registerExperiment(program: Command): void {
  const ex = program.command('experiment').description("the report's experiments on a running VC: OS overhead, network, storage, MPI");

  ex.command('run')
    .description('run one experiment as a task and store its values in the cluster database')
    .argument('<kind>', EXPERIMENT_KINDS.join(' | '))
    .requiredOption('--vc <name>', 'the running VC to measure (made from the tiny-bench image)')
    .option('--seconds <n>', `how long each probe runs (${EXPERIMENT_SECONDS.min}-${EXPERIMENT_SECONDS.max}, default ${EXPERIMENT_SECONDS.default})`)
    .option('--outside <address>', 'network: the peer of the VM↔outside pair (ping; iperf3 when a server answers there)')
    .option('--json', 'print the task as JSON')
    .action(action(async (kind: string, o: { vc: string; seconds?: string; outside?: string; json?: boolean }) => {
      const seconds = o.seconds === undefined ? undefined : /^-?\d+$/.test(o.seconds) ? Number(o.seconds) : o.seconds;
      const input = { kind, vc: o.vc, ...(seconds !== undefined ? { seconds } : {}), ...(o.outside !== undefined ? { outside: o.outside } : {}) };
      const { task, exitCode } = await runTask('experiments.run', input as never, { json: Boolean(o.json) });
      if (o.json) printJson(task);
      else if (task.state === 'succeeded') {
        const run = (await call('experiments.list', { limit: 50 })).find((r) => r.taskId === task.id);
        if (run) {
          const { rows } = await call('experiments.show', { id: run.id });
          process.stdout.write([runLine(run), ...valueLines(rows), ...ratioLines(run.kind, rows)].join('\n') + '\n');
        }
      }
      return exitCode;
    }, FLAGS));

  ex.command('list')
    .description('stored runs, newest first')
    .option('--kind <kind>', EXPERIMENT_KINDS.join(' | '))
    .option('--json', 'print JSON')
    .action(action(async (o: { kind?: string; json?: boolean }) => {
      const runs = await call('experiments.list', (o.kind !== undefined ? { kind: o.kind } : {}) as never);
      if (o.json) printJson(runs);
      else if (runs.length === 0) process.stdout.write('no experiment runs yet: `vlx experiment run os-overhead --vc NAME`\n');
      else process.stdout.write(runs.map(runLine).join('\n') + '\n');
    }, { kind: '--kind' }));

  ex.command('show')
    .description("one run's values (and its ratios)")
    .argument('<id>')
    .option('--json', 'print JSON')
    .action(action(async (id: string, o: { json?: boolean }) => {
      const [n] = parseIds([id]);
      const { run, rows } = await call('experiments.show', { id: n! });
      if (o.json) printJson({ run, rows });
      else process.stdout.write([runLine(run), ...valueLines(rows), ...ratioLines(run.kind, rows)].join('\n') + '\n');
    }, FLAGS));

  ex.command('export')
    .description('the values of one or more runs as CSV (the same text as the screen’s CSV export)')
    .argument('<ids...>')
    .option('--csv', 'CSV (the only format; accepted for clarity)')
    .option('-o, --output <file>', 'write to this file instead of standard output')
    .action(action(async (ids: string[], o: { output?: string }) => {
      const { csv } = await call('experiments.export', { ids: parseIds(ids) });
      if (o.output) writeFileSync(o.output, csv);
      else process.stdout.write(csv);
    }, FLAGS));
}
