import { VlxError, invalid } from '../errors.js';
import { lockHeldSql, type Queryable } from '../db/client.js';
import type { StepState, TaskState, TaskSummary } from './types.js';

export interface TaskLogLine {
  id: number;
  at: string;
  step?: number;
  line: string;
}

export interface TaskDetail extends TaskSummary {
  /** The last lines of the log (oldest first). */
  log: TaskLogLine[];
}

const TASK_COLS = `t.id, t.kind, t.target, t.params, t.state, t.progress, t.current_step, t.error, t.cancel_requested,
  t.host, t.attempts, t.started_at, t.ended_at, (t.state = 'running' and not ${lockHeldSql('t.lock_key')}) as interrupted`;

interface TaskRow {
  id: string;
  kind: string;
  target: string;
  params: Record<string, unknown>;
  state: TaskState;
  progress: number;
  current_step: string | null;
  error: TaskSummary['error'] | null;
  cancel_requested: boolean;
  host: string;
  attempts: number;
  started_at: Date;
  ended_at: Date | null;
  interrupted: boolean;
}

interface StepRow {
  task_id: string;
  name: string;
  state: StepState;
  progress: number;
  note: string | null;
}

function toSummary(t: TaskRow, steps: StepRow[]): TaskSummary {
  return {
    id: t.id,
    kind: t.kind,
    target: t.target,
    state: t.state,
    progress: t.progress,
    ...(t.current_step ? { currentStep: t.current_step } : {}),
    ...(t.error ? { error: t.error } : {}),
    startedAt: t.started_at.toISOString(),
    ...(t.ended_at ? { endedAt: t.ended_at.toISOString() } : {}),
    attempts: t.attempts,
    host: t.host,
    params: t.params,
    interrupted: t.interrupted,
    cancelRequested: t.cancel_requested,
    steps: steps.map((s) => ({ name: s.name, state: s.state, progress: s.progress, ...(s.note ? { note: s.note } : {}) })),
  };
}

async function withSteps(q: Queryable, rows: TaskRow[]): Promise<TaskSummary[]> {
  if (rows.length === 0) return [];
  const steps = await q.query<StepRow>(
    'select task_id, name, state, progress, note from task_steps where task_id = any($1::uuid[]) order by task_id, idx',
    [rows.map((r) => r.id)],
  );
  const by = new Map<string, StepRow[]>();
  for (const s of steps.rows) (by.get(s.task_id) ?? by.set(s.task_id, []).get(s.task_id)!).push(s);
  return rows.map((r) => toSummary(r, by.get(r.id) ?? []));
}

export interface ListOptions {
  /** Every task, not only unfinished ones and the most recent. */
  all?: boolean;
  limit?: number;
  kind?: string;
  target?: string;
}

/** Newest first. Without `all`: every unfinished task plus the 20 most recent. */
export async function listTasks(q: Queryable, opts: ListOptions = {}): Promise<TaskSummary[]> {
  const limit = opts.limit ?? (opts.all ? 10_000 : 20);
  const r = await q.query<TaskRow>(
    `select ${TASK_COLS} from tasks t
      where ($1::text is null or t.kind = $1) and ($2::text is null or t.target = $2)
        and ($3 or t.state = 'running' or t.id in (select id from tasks order by started_at desc limit $4))
      order by t.started_at desc limit $5`,
    [opts.kind ?? null, opts.target ?? null, Boolean(opts.all), limit, opts.all ? limit : limit + 1000],
  );
  return withSteps(q, r.rows);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A full task id, or a unique prefix of one (as `vlx tasks` prints them). */
export async function resolveTaskId(q: Queryable, idOrPrefix: string): Promise<string> {
  const s = idOrPrefix.trim().toLowerCase();
  if (UUID.test(s)) return s;
  if (!/^[0-9a-f-]{4,36}$/.test(s)) throw invalid('task id', 'must be a task id or at least its first 4 hex digits', idOrPrefix);
  const r = await q.query<{ id: string }>(`select id from tasks where id::text like $1 || '%' limit 2`, [s]);
  if (r.rows.length === 0) throw new VlxError('not-found', `no task ${idOrPrefix}`, 'see `vlx tasks --all`');
  if (r.rows.length > 1) throw new VlxError('invalid-input', `task id: "${idOrPrefix}" matches more than one task: give more of it`);
  return r.rows[0].id;
}

export async function getTask(q: Queryable, idOrPrefix: string, logTail = 50): Promise<TaskDetail> {
  const id = await resolveTaskId(q, idOrPrefix);
  const r = await q.query<TaskRow>(`select ${TASK_COLS} from tasks t where t.id = $1`, [id]);
  if (!r.rows[0]) throw new VlxError('not-found', `no task ${idOrPrefix}`, 'see `vlx tasks --all`');
  const [summary] = await withSteps(q, r.rows);
  const log = await taskLog(q, id, { tail: logTail });
  return { ...summary, log };
}

/** Log lines in order; `afterId` to follow a running task, `tail` for the last N. */
export async function taskLog(q: Queryable, id: string, opts: { afterId?: number; tail?: number } = {}): Promise<TaskLogLine[]> {
  const r = opts.tail !== undefined
    ? await q.query(`select * from (select id, at, step, line from task_log where task_id = $1 order by id desc limit $2) x order by id`, [id, opts.tail])
    : await q.query(`select id, at, step, line from task_log where task_id = $1 and id > $2 order by id`, [id, opts.afterId ?? 0]);
  return r.rows.map((x) => ({ id: Number(x.id), at: (x.at as Date).toISOString(), ...(x.step === null ? {} : { step: x.step as number }), line: x.line as string }));
}

/**
 * Ask a running task to stop. The runner (on whichever workstation) hears it through
 * NOTIFY, aborts the current step's signal and stops before the next step.
 */
export async function cancelTask(q: Queryable, idOrPrefix: string): Promise<TaskSummary> {
  const id = await resolveTaskId(q, idOrPrefix);
  const r = await q.query<{ state: TaskState }>(
    `update tasks set cancel_requested = true where id = $1 and state = 'running' returning state`, [id]);
  if (r.rowCount === 0) {
    const t = await q.query<{ state: TaskState }>('select state from tasks where id = $1', [id]);
    if (!t.rows[0]) throw new VlxError('not-found', `no task ${idOrPrefix}`, 'see `vlx tasks --all`');
    throw new VlxError('conflict', `task ${id} has already ${t.rows[0].state === 'succeeded' ? 'succeeded' : `ended (${t.rows[0].state})`}`);
  }
  return (await getTask(q, id, 0));
}
