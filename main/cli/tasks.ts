import type { Command } from 'commander';
import type { TaskSummary } from '../api/contract.js';
import { action, printJson } from './output.js';
import { createTaskProgress } from './progress.js';
import { call, cli, runTask, taskExit } from './client.js';

function shownState(t: TaskSummary): string {
  if (t.interrupted) return 'interrupted';
  return t.state === 'running' && t.cancelRequested ? 'cancelling' : t.state;
}

export function renderTasksTable(tasks: TaskSummary[]): string {
  if (tasks.length === 0) return 'no tasks\n';
  const head = ['ID', 'KIND', 'TARGET', 'STATE', 'DONE', 'STEP', 'STARTED'];
  const rows = tasks.map((t) => [
    t.id.slice(0, 8), t.kind, t.target, shownState(t), `${Math.round(t.progress * 100)}%`,
    t.state === 'succeeded' ? '' : t.currentStep ?? '', t.startedAt.replace('T', ' ').slice(0, 19),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
  const out = [line(head), ...rows.map(line)];
  if (tasks.some((t) => t.interrupted)) out.push('', 'interrupted: its process went away; run the same command again to resume it.');
  return out.join('\n') + '\n';
}

export function renderTaskDetail(t: TaskSummary, log: { at: string; line: string }[]): string {
  const out = [
    `task     ${t.id}`,
    `what     ${t.kind} ${t.target}`,
    `state    ${shownState(t)}${t.attempts && t.attempts > 1 ? ` (attempt ${t.attempts})` : ''}`,
    `host     ${t.host ?? '-'}`,
    `started  ${t.startedAt}${t.endedAt ? `   ended ${t.endedAt}` : ''}`,
  ];
  if (t.error) out.push(`error    [${t.error.code}]${t.error.step ? ` in step "${t.error.step}"` : ''}: ${t.error.message}`);
  if (t.error?.hint) out.push(`hint     ${t.error.hint}`);
  out.push('', 'steps');
  t.steps.forEach((s, i) => out.push(`  ${String(i + 1).padStart(2)}. ${s.name.padEnd(24)} ${s.state.padEnd(8)} ${s.state === 'running' ? `${Math.round(s.progress * 100)}% ` : ''}${s.note ?? ''}`.trimEnd()));
  if (log.length) {
    out.push('', 'log (latest)');
    for (const l of log) out.push(`  ${l.at.slice(11, 23)}  ${l.line}`);
  }
  return out.join('\n') + '\n';
}

/** Follow a task run by any workstation: its events wake us (NOTIFY for others'), the rows say what changed. */
async function follow(id: string): Promise<TaskSummary> {
  const progress = createTaskProgress();
  let printed = 0;
  let wake: () => void = () => {};
  const off = (await cli()).on('task', (e) => {
    if ((e.type === 'task' ? e.task.id : e.taskId) === id) wake();
  });
  try {
    for (;;) {
      const woken = new Promise<void>((r) => (wake = r));
      const { task, log } = await call('tasks.get', { id, logLines: 10_000 });
      for (const l of log.slice(printed)) progress.onEvent({ type: 'log', taskId: id, at: l.at, line: l.line });
      printed = log.length;
      progress.onEvent({ type: 'task', task });
      if (task.state !== 'running' || task.interrupted) return task;
      // NOTIFY wakes us; a slow poll covers a lost notification.
      await Promise.race([woken, new Promise((r) => setTimeout(r, 2000))]);
    }
  } finally {
    off();
    progress.finish();
  }
}

export function registerTasks(program: Command): void {
  const tasks = program.command('tasks')
    .description('workflow runs stored in the cluster database: steps, progress, log')
    .option('--all', 'every task, not only unfinished ones and the latest 20')
    .option('--json', 'print as JSON')
    .action(action(async (o: { all?: boolean; json?: boolean }) => {
      const list = await call('tasks.list', o.all ? { all: true } : { limit: 20 });
      if (o.json) printJson(list);
      else process.stdout.write(renderTasksTable(list));
    }));

  tasks.command('show <id>')
    .description('one task: its steps and the end of its log (ID may be a unique prefix)')
    .option('--follow', 'keep showing progress until the task ends')
    .option('--json', 'print as JSON')
    .action(action(async (id: string, opts: { follow?: boolean; json?: boolean }) => {
      // `tasks` has a --json of its own, which commander gives to it wherever it appears.
      const o = { ...opts, json: opts.json || Boolean(tasks.opts().json) };
      if (o.follow) {
        const full = (await call('tasks.get', { id, logLines: 0 })).task.id;
        const t = await follow(full);
        if (o.json) printJson(await call('tasks.get', { id: full }));
        return t.interrupted ? 1 : taskExit(t);
      }
      const d = await call('tasks.get', { id, logLines: 50 });
      if (o.json) printJson(d);
      else process.stdout.write(renderTaskDetail(d.task, d.log));
    }, { id: 'ID' }));

  tasks.command('resume <id>')
    .description('run an interrupted or failed VC task again from its first unfinished step (from any workstation)')
    .option('--json', 'print the finished task as JSON')
    .action(action(async (id: string, o: { json?: boolean }) => {
      const { task, exitCode } = await runTask('tasks.resume', { id }, { json: Boolean(o.json) });
      if (o.json) printJson(task);
      else if (task.state === 'succeeded') process.stderr.write(`${task.kind} ${task.target}: done (task ${task.id.slice(0, 8)})\n`);
      return exitCode;
    }, { id: 'ID' }));

  tasks.command('cancel <id>')
    .description('stop a running task before its next step (from any workstation)')
    .option('--json', 'print as JSON')
    .action(action(async (id: string, opts: { json?: boolean }) => {
      const o = { json: opts.json || Boolean(tasks.opts().json) };
      const t = await call('tasks.cancel', { id });
      if (o.json) printJson(t);
      else process.stdout.write(`task ${t.id} (${t.kind} ${t.target}): cancel requested; it stops before its next step\n`);
    }, { id: 'ID' }));
}
