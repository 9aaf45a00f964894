import type { Command } from 'commander';
import { invalid } from '../errors.js';
import type { MoveResult, TaskSummary } from '../api/contract.js';
import { EXIT, action, printJson } from './output.js';
import { call, cli, taskExit } from './client.js';
import { createTaskProgress } from './progress.js';

function parseRefs(refs: string[]): { vc: string; vm: string }[] {
  return refs.map((r) => {
    const m = /^([^/]+)\/([^/]+)$/.exec(r);
    if (!m) throw invalid('VC/VM', 'must be VC/VM, like web/vm2', r);
    return { vc: m[1]!, vm: m[2]! };
  });
}

export function registerVm(program: Command): void {
  const vm = program.command('vm').description('single VMs of a virtual cluster');

  vm.command('move <vm...>')
    .description('re-map VMs (VC/VM) to a node: a running VM is live-migrated, a saved one restored there')
    .requiredOption('--to <node>', 'target node')
    .option('--dry-run', 'only say what each move would do')
    .option('--json', 'print one result per VM as JSON')
    .action(action(async (refs: string[], o: { to: string; dryRun?: boolean; json?: boolean }) => {
      const vms = parseRefs(refs);
      const json = Boolean(o.json);
      if (o.dryRun) {
        const plan = await call('vm.planMove', { vms, to: o.to });
        if (json) printJson(plan);
        else for (const p of plan) process.stdout.write(`${p.vc}/${p.vm}: ${p.action}: ${p.reason}\n`);
        return plan.some((p) => p.action === 'refuse') ? EXIT.conflict : 0;
      }
      // Each VM's task reports its end as an event; collect them from the start (a quick move may end before the call returns).
      const ended = new Map<string, TaskSummary>();
      const waiting = new Map<string, (t: TaskSummary) => void>();
      const progress = json ? undefined : createTaskProgress(process.stderr);
      const off = (await cli()).on('task', (e) => {
        progress?.onEvent(e);
        if (e.type !== 'task' || e.task.state === 'running') return;
        ended.set(e.task.id, e.task);
        waiting.get(e.task.id)?.(e.task);
      });
      try {
        const started = await call('vm.move', { vms, to: o.to });
        const results: MoveResult[] = await Promise.all(started.map(async (r) => {
          if (!r.ok || !r.taskId) return r;
          const t = ended.get(r.taskId) ?? await new Promise<TaskSummary>((resolve) => waiting.set(r.taskId!, resolve));
          return { ...r, ok: t.state === 'succeeded', ...(t.error ? { error: { code: t.error.code, message: t.error.message } } : {}) };
        }));
        progress?.finish();
        if (json) printJson(results);
        let code = 0;
        for (const r of results) {
          if (!json) {
            if (r.ok) process.stderr.write(`${r.vc}/${r.vm}: ${r.action === 'migrate' ? 'live-migrated' : r.action === 'none' ? 'already there' : 'moved'} to ${o.to}\n`);
            else process.stderr.write(`vlx: error: ${r.vc}/${r.vm}: ${r.error?.message ?? 'failed'}\n`);
          }
          if (!r.ok) code = code || taskExit({ state: 'failed', error: { code: r.error?.code ?? 'internal', message: '' } });
        }
        return code;
      } finally {
        off();
      }
    }, { vms: 'VC/VM', to: '--to' }));
}
