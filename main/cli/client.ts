import { VlxError, type ErrorCode } from '../errors.js';
import { createDispatch } from '../api/dispatch.js';
import { memoryTransport } from '../api/memory.js';
import { createClient, type Client } from '../api/client.js';
import type { Channel, Input, Output, TaskEvent, TaskSummary } from '../api/contract.js';
import { createServices } from '../service/index.js';
import { EXIT } from './output.js';
import { createTaskProgress } from './progress.js';

/**
 * The CLI is a face like the GUI: it reaches the service layer through the contract, in
 * process. Inputs are validated by the contract before any service runs (so bad input exits 2
 * with no network), outputs are the same plain data the GUI gets, and `--json` prints them.
 */

// The CLI's calls last as long as the work: a person stops them with Ctrl-C, exec with --timeout.
const NO_CALL_DEADLINE_MS = 2 ** 31 - 1;

let shared: { client: Client; close(): Promise<void> } | undefined;

/** One in-process client per CLI run; closed by `closeCli()` when the command ends. */
export function cli(): Client {
  if (!shared) {
    const services = createServices({ face: 'cli' });
    const dispatch = createDispatch(services, { timeoutMs: NO_CALL_DEADLINE_MS, slowTimeoutMs: NO_CALL_DEADLINE_MS });
    shared = { client: createClient(memoryTransport(dispatch, services.events)), close: () => services.close() };
  }
  return shared.client;
}

export async function closeCli(): Promise<void> {
  const s = shared;
  shared = undefined;
  await s?.close();
}

/** The value of a call, or the call's error as a VlxError (its code gives the exit status). */
export async function call<C extends Channel>(channel: C, input: Input<C>): Promise<Output<C>> {
  const env = await cli().invoke(channel, input);
  if (!env.ok) throw new VlxError(env.error.code as ErrorCode, env.error.message, env.error.hint);
  return env.value;
}

/**
 * Start a long operation and follow its task to the end: live progress on stderr, Ctrl-C
 * cancels before the next step (a second Ctrl-C leaves at once; running the same command
 * again resumes), and the exit status from how it ended.
 */
export async function runTask<C extends Channel>(channel: C, input: Input<C>, opts: { json?: boolean; quiet?: boolean } = {}):
  Promise<{ task: TaskSummary; exitCode: number }> {
  const progress = opts.quiet || opts.json ? undefined : createTaskProgress(process.stderr);
  const seen = new Map<string, TaskEvent[]>();
  let id: string | undefined;
  let finish!: (t: TaskSummary) => void;
  const ended = new Promise<TaskSummary>((r) => { finish = r; });
  const handle = (e: TaskEvent): void => {
    progress?.onEvent(e);
    if (e.type === 'task' && e.task.state !== 'running') finish(e.task);
  };
  const off = cli().on('task', (e) => {
    const key = e.type === 'task' ? e.task.id : e.taskId;
    if (id === undefined) seen.set(key, [...(seen.get(key) ?? []), e]);
    else if (key === id) handle(e);
  });
  const onSigint = (): void => {
    if (cancelling) process.exit(EXIT.cancelled);
    cancelling = true;
    process.stderr.write('\ncancelling after the current step (Ctrl-C again to leave now; a re-run resumes)\n');
    if (id) void cli().invoke('tasks.cancel', { id });
  };
  let cancelling = false;
  process.on('SIGINT', onSigint);
  try {
    const started = (await call(channel, input)) as unknown as { taskId: string };
    id = started.taskId;
    for (const e of seen.get(id) ?? []) handle(e);
    seen.clear();
    if (cancelling) void cli().invoke('tasks.cancel', { id });
    const task = await ended;
    if (!opts.json) reportTaskEnd(task);
    return { task, exitCode: taskExit(task) };
  } finally {
    off();
    process.off('SIGINT', onSigint);
    progress?.finish();
  }
}

/** A task that did not succeed: what failed, where, and what to do. */
function reportTaskEnd(t: TaskSummary): void {
  if (t.state === 'succeeded') return;
  const where = t.error?.step ? ` in step "${t.error.step}"` : '';
  process.stderr.write(`vlx: error: ${t.kind} ${t.target} ${t.state}${where}${t.error ? `: ${t.error.message}` : ''}\n`);
  if (t.error?.hint) process.stderr.write(`  hint: ${t.error.hint}\n`);
  if (!t.id.startsWith('local-')) process.stderr.write(`  see \`vlx tasks show ${t.id.slice(0, 8)}\`; running the same command again continues the task\n`);
}

/** The exit status a finished task maps to: 0, its error's code, or 'cancelled'. */
export function taskExit(t: Pick<TaskSummary, 'state' | 'error'>): number {
  if (t.state === 'succeeded') return EXIT.ok;
  if (t.state === 'cancelled') return EXIT.cancelled;
  return EXIT[(t.error?.code ?? 'internal') as keyof typeof EXIT] ?? 1;
}
