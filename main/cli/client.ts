import { VlxError, type ErrorCode } from '../errors.js';
import { createClient, type Client } from '../api/client.js';
import type { Channel, Input, Output, TaskEvent, TaskSummary } from '../api/contract.js';
import { connectAgent } from '../agent/transport.js';
import { agentSocketPath } from '../agent/protocol.js';
import { EXIT } from './output.js';
import { createTaskProgress } from './progress.js';

/**
 * The CLI is a face like the GUI: it reaches the service layer through the contract. When an
 * agent (`vlx agent`, or the app) serves this user's app home, the calls go to it over its
 * socket and reuse its warm connections; otherwise the CLI serves itself, in process, loading
 * the service layer only then. Either way the contract validates every input before any
 * service runs (bad input exits 2 with no network), outputs are the same plain data the GUI
 * gets, and `--json` prints them.
 */

// The CLI's calls last as long as the work: a person stops them with Ctrl-C, exec with --timeout.
const NO_CALL_DEADLINE_MS = 2 ** 31 - 1;

let shared: Promise<{ client: Client; via: 'agent' | 'process'; close(): Promise<void> }> | undefined;

/**
 * An agent serves the calls of the cluster it has chosen and of its own host-key policy: a run
 * that picks another cluster (--cluster, VLX_CLUSTER) or accepts new host keys serves itself.
 */
function agentUsable(): boolean {
  return !process.env.VLX_CLUSTER && process.env.VLX_ACCEPT_NEW_HOST_KEY !== '1' && process.env.VLX_NO_AGENT !== '1';
}

async function open(): Promise<{ client: Client; via: 'agent' | 'process'; close(): Promise<void> }> {
  if (agentUsable()) {
    const t = await connectAgent(agentSocketPath());
    if (t) return { client: createClient(t), via: 'agent', close: async () => t.close() };
  }
  const [{ createServices }, { createDispatch }, { memoryTransport }] = await Promise.all([
    import('../service/index.js'), import('../api/dispatch.js'), import('../api/memory.js'),
  ]);
  const services = createServices({ face: 'cli' });
  const dispatch = createDispatch(services, { timeoutMs: NO_CALL_DEADLINE_MS, slowTimeoutMs: NO_CALL_DEADLINE_MS });
  return { client: createClient(memoryTransport(dispatch, services.events)), via: 'process', close: () => services.close() };
}

/** One client per CLI run (the agent's, or in process); closed by `closeCli()` when the command ends. */
export async function cli(): Promise<Client> {
  shared ??= open();
  return (await shared).client;
}

/** Whether this run's calls went to an agent (for `vlx agent status` and tests). */
export async function servedBy(): Promise<'agent' | 'process'> {
  shared ??= open();
  return (await shared).via;
}

export async function closeCli(): Promise<void> {
  const s = shared;
  shared = undefined;
  await (await s)?.close();
}

/** The value of a call, or the call's error as a VlxError (its code gives the exit status). */
export async function call<C extends Channel>(channel: C, input: Input<C>): Promise<Output<C>> {
  const env = await (await cli()).invoke(channel, input);
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
  const client = await cli();
  const off = client.on('task', (e) => {
    const key = e.type === 'task' ? e.task.id : e.taskId;
    if (id === undefined) seen.set(key, [...(seen.get(key) ?? []), e]);
    else if (key === id) handle(e);
  });
  const onSigint = (): void => {
    if (cancelling) process.exit(EXIT.cancelled);
    cancelling = true;
    process.stderr.write('\ncancelling after the current step (Ctrl-C again to leave now; a re-run resumes)\n');
    if (id) void client.invoke('tasks.cancel', { id });
  };
  let cancelling = false;
  process.on('SIGINT', onSigint);
  try {
    const started = (await call(channel, input)) as unknown as { taskId: string };
    id = started.taskId;
    for (const e of seen.get(id) ?? []) handle(e);
    seen.clear();
    if (cancelling) void client.invoke('tasks.cancel', { id });
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
