import { VlxError, asVlxError, invalid } from '../errors.js';
import { processLabel, type Db, type Queryable } from '../db/client.js';
import type { StepContext, StepState, TaskEvent, TaskState, TaskSummary, WorkflowDef } from './types.js';

export interface RunOptions {
  /** Aborting it cancels the task the same way `vlx tasks cancel` does (e.g. Ctrl-C in the CLI). */
  signal?: AbortSignal;
  onEvent?: (e: TaskEvent) => void;
  /** How long progress and log lines may wait before they are written (they are written in batches). */
  flushMs?: number;
}

interface StepMem {
  name: string;
  state: StepState;
  progress: number;
  note?: string;
}

interface Prior {
  id: string;
  state: TaskState;
  lock_key: string;
  attempts: number;
  steps: string[];
}

/** The lock a task holds for its whole run; without an explicit one, runs of the same kind+target still exclude each other. */
export function taskLockKey(def: Pick<WorkflowDef, 'kind' | 'target' | 'lockKey'>): string {
  return def.lockKey ?? `task:${def.kind}:${def.target}`;
}

export function checkWorkflow(def: WorkflowDef): void {
  if (!def.kind || !/^[a-z][a-z0-9.-]{0,63}$/.test(def.kind)) throw invalid('workflow kind', 'must be lowercase letters, digits, "." or "-"', def.kind);
  if (!def.target) throw invalid('workflow target', 'must not be empty', def.target);
  if (def.steps.length === 0) throw invalid('workflow steps', 'must have at least one step');
  const seen = new Set<string>();
  for (const s of def.steps) {
    if (!s.name) throw invalid('step name', 'must not be empty');
    if (seen.has(s.name)) throw invalid('step name', 'must be unique within a workflow', s.name);
    seen.add(s.name);
  }
}

/**
 * What to do with the latest earlier task of the same kind+target: continue it when it did
 * not finish and has the same steps (steps are idempotent, so the interrupted one simply
 * runs again), otherwise start a new task. Pure, so the rule is tested on its own.
 */
export function resumeDecision(prior: { state: TaskState; steps: string[]; alive: boolean } | undefined, steps: string[]):
  'new' | 'resume' | 'busy' {
  if (!prior || prior.state === 'succeeded') return 'new';
  if (prior.state === 'running' && prior.alive) return 'busy';
  const same = prior.steps.length === steps.length && prior.steps.every((n, i) => n === steps[i]);
  return same ? 'resume' : 'new';
}

/** Overall progress: finished steps count whole, the running one by its own fraction. */
export function overallProgress(steps: { state: StepState; progress: number }[]): number {
  if (steps.length === 0) return 0;
  const sum = steps.reduce((a, s) => a + (s.state === 'done' || s.state === 'skipped' ? 1 : s.state === 'running' ? s.progress : 0), 0);
  return Math.min(1, Math.max(0, sum / steps.length));
}

const INTERRUPTED = { code: 'internal', message: 'interrupted: the process running it went away' };

/**
 * Run a workflow as a task: recorded in the DB (steps, progress, log), streamed as events,
 * under the workflow's advisory lock for its whole run, cancellable between steps, and
 * resumed from its first unfinished step when an earlier run of it did not finish.
 * Returns the final summary; a failed or cancelled task is a result, not an exception.
 * Throws only when it cannot run at all (bad definition, lock held: 'conflict', DB gone).
 */
export async function runWorkflow(db: Db, def: WorkflowDef, opts: RunOptions = {}): Promise<TaskSummary> {
  checkWorkflow(def);
  const lockKey = taskLockKey(def);
  const flushMs = opts.flushMs ?? 200;
  const names = def.steps.map((s) => s.name);
  const host = processLabel();

  return db.withAdvisoryLock(lockKey, async () => {
    const { id, startedAt, attempts, steps, resumedNote } = await claimTask(db, def, lockKey, names, host);
    const ctl = new AbortController();
    let state: TaskState = 'running';
    let currentStep: string | undefined;
    let error: TaskSummary['error'];
    let endedAt: string | undefined;

    const summary = (): TaskSummary => ({
      id, kind: def.kind, target: def.target, state, progress: overallProgress(steps),
      ...(currentStep ? { currentStep } : {}), ...(error ? { error } : {}),
      startedAt, ...(endedAt ? { endedAt } : {}), attempts, host, params: def.params ?? {},
      steps: steps.map((s) => ({ name: s.name, state: s.state, progress: s.progress, ...(s.note ? { note: s.note } : {}) })),
    });
    const emit = (e: TaskEvent): void => {
      try {
        opts.onEvent?.(e);
      } catch {
        // a renderer's bug must not fail the workflow
      }
    };
    const emitTask = (): void => emit({ type: 'task', task: summary() });

    // Batched writes: progress and log lines collect here and go out together, so a step
    // that reports often does not wait on the DB.
    let logs: { at: string; step: number | null; line: string }[] = [];
    const dirty = new Set<number>();
    let timer: NodeJS.Timeout | undefined;
    let chain: Promise<void> = Promise.resolve();
    let flushError: unknown;
    const writeBatch = async (): Promise<void> => {
      const lines = logs;
      logs = [];
      const idxs = [...dirty];
      dirty.clear();
      if (lines.length === 0 && idxs.length === 0) return;
      await db.tx(async (q) => {
        for (const i of idxs) {
          await q.query('update task_steps set progress = $3, note = $4 where task_id = $1 and idx = $2', [id, i, steps[i].progress, steps[i].note ?? null]);
        }
        if (idxs.length) await q.query('update tasks set progress = $2 where id = $1', [id, overallProgress(steps)]);
        if (lines.length) {
          await q.query(`insert into task_log (task_id, at, step, line) select $1, * from unnest($2::timestamptz[], $3::int[], $4::text[])`,
            [id, lines.map((l) => l.at), lines.map((l) => l.step), lines.map((l) => l.line)]);
        }
      });
    };
    const flush = (): Promise<void> => {
      if (timer) clearTimeout(timer);
      timer = undefined;
      chain = chain.then(writeBatch).catch((e) => {
        flushError ??= e;
      });
      return chain;
    };
    const schedule = (): void => {
      timer ??= setTimeout(() => void flush(), flushMs);
    };
    const flushed = async (): Promise<void> => {
      await flush();
      if (flushError) throw flushError;
    };
    const logLine = (step: number | null, line: string): void => {
      const at = new Date().toISOString();
      for (const l of line.split('\n')) {
        logs.push({ at, step, line: l });
        emit({ type: 'log', taskId: id, at, line: l });
      }
      schedule();
    };

    // Another workstation (or `vlx tasks cancel`) cancels through the DB; NOTIFY tells us at once.
    const stopListening = await db.listen('vlx_events', (payload) => {
      try {
        const p = JSON.parse(payload) as { type?: string; id?: string; cancel?: boolean };
        if (p.type === 'task' && p.id === id && p.cancel) ctl.abort(new VlxError('cancelled', `task ${id} was cancelled`));
      } catch {
        // not ours
      }
    });
    const onCallerAbort = (): void => {
      ctl.abort(new VlxError('cancelled', `task ${id} was cancelled`));
      void db.query('update tasks set cancel_requested = true where id = $1', [id]).catch(() => {});
    };
    if (opts.signal?.aborted) onCallerAbort();
    else opts.signal?.addEventListener('abort', onCallerAbort, { once: true });

    try {
      emitTask();
      // already stored by claimTask; only the live view needs it
      if (resumedNote) emit({ type: 'log', taskId: id, at: new Date().toISOString(), line: resumedNote });
      for (let i = 0; i < steps.length; i++) {
        const step = steps[i];
        if (step.state === 'done' || step.state === 'skipped') continue;
        await flushed();
        // The cancel check and the step start are one statement: no step starts after a cancel was stored.
        const go = await db.query(
          `update tasks set current_step = $2, progress = $3 where id = $1 and not cancel_requested returning id`,
          [id, step.name, overallProgress(steps)]);
        if (go.rowCount === 0 || ctl.signal.aborted) {
          state = 'cancelled';
          break;
        }
        currentStep = step.name;
        step.state = 'running';
        step.progress = 0;
        step.note = undefined;
        await db.query(`update task_steps set state = 'running', progress = 0, note = null, started_at = now(), ended_at = null where task_id = $1 and idx = $2`, [id, i]);
        emitTask();
        const ctx: StepContext = {
          taskId: id,
          signal: ctl.signal,
          log: (line) => logLine(i, line),
          progress: (fraction, note) => {
            step.progress = Number.isFinite(fraction) ? Math.min(1, Math.max(0, fraction)) : 0;
            if (note !== undefined) step.note = note;
            dirty.add(i);
            emitTask();
            schedule();
          },
        };
        try {
          await def.steps[i].run(ctx);
        } catch (e) {
          const err = asVlxError(e);
          await flushed();
          if (ctl.signal.aborted) {
            // Interrupted by the cancel: not done, so a later run does it again.
            step.state = 'pending';
            step.note = 'interrupted by cancel';
            await db.query(`update task_steps set state = 'pending', note = $3, ended_at = now() where task_id = $1 and idx = $2`, [id, i, step.note]);
            state = 'cancelled';
            break;
          }
          step.state = 'failed';
          step.note = err.message;
          error = { code: err.code, message: err.message, step: step.name, ...(err.hint ? { hint: err.hint } : {}) };
          logLine(i, `step "${step.name}" failed: ${err.message}`);
          await flushed();
          await db.query(`update task_steps set state = 'failed', note = $3, ended_at = now() where task_id = $1 and idx = $2`, [id, i, err.message]);
          state = 'failed';
          break;
        }
        await flushed();
        step.state = 'done';
        step.progress = 1;
        await db.query(`update task_steps set state = 'done', progress = 1, note = $3, ended_at = now() where task_id = $1 and idx = $2`, [id, i, step.note ?? null]);
        emitTask();
      }
      if (state === 'running') {
        state = 'succeeded';
        currentStep = undefined;
      }
      if (state === 'cancelled') logLine(null, 'cancelled');
      await flushed();
      const end = await db.query<{ ended_at: Date }>(
        `update tasks set state = $2, progress = $3, current_step = $4, error = $5, ended_at = now() where id = $1 returning ended_at`,
        [id, state, overallProgress(steps), state === 'succeeded' ? null : currentStep ?? null, error ? JSON.stringify(error) : null]);
      endedAt = end.rows[0].ended_at.toISOString();
      emitTask();
      return summary();
    } finally {
      if (timer) clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onCallerAbort);
      await stopListening();
    }
  });
}

/** Resume the earlier unfinished task of this kind+target, or insert a new one. Runs while we hold the lock. */
async function claimTask(db: Db, def: WorkflowDef, lockKey: string, names: string[], host: string):
  Promise<{ id: string; startedAt: string; attempts: number; steps: StepMem[]; resumedNote?: string }> {
  return db.tx(async (q) => {
    const prior = await latestTask(q, def.kind, def.target);
    // A 'running' task under our own lock is dead: we hold that lock now. Under another key, ask.
    const alive = prior?.state === 'running' && prior.lock_key !== lockKey ? await db.isLocked(prior.lock_key) : false;
    const decision = resumeDecision(prior && { state: prior.state, steps: prior.steps, alive }, names);
    if (decision === 'busy') {
      throw new VlxError('conflict', `task ${prior!.id} (${def.kind} ${def.target}) is still running`, 'wait for it, or cancel it with `vlx tasks cancel ID`');
    }
    const resumeId = decision === 'resume' ? prior!.id : null;
    // Whatever else claims to run under this lock was interrupted: nobody holds the lock but us.
    await q.query(`update tasks set state = 'failed', ended_at = now(), error = coalesce(error, $3::jsonb)
                    where lock_key = $1 and state = 'running' and id is distinct from $2::uuid`,
      [lockKey, resumeId, JSON.stringify(INTERRUPTED)]);

    if (resumeId) {
      const t = await q.query<{ started_at: Date; attempts: number }>(
        `update tasks set state = 'running', ended_at = null, error = null, cancel_requested = false, host = $2,
            attempts = attempts + 1, params = $3, lock_key = $4 where id = $1 returning started_at, attempts`,
        [resumeId, host, JSON.stringify(def.params ?? {}), lockKey]);
      await q.query(`update task_steps set state = 'pending', progress = 0, note = null, started_at = null, ended_at = null
                      where task_id = $1 and state not in ('done', 'skipped')`, [resumeId]);
      const s = await q.query<{ name: string; state: StepState; progress: number; note: string | null }>(
        'select name, state, progress, note from task_steps where task_id = $1 order by idx', [resumeId]);
      const steps = s.rows.map((r) => ({ name: r.name, state: r.state, progress: r.progress, ...(r.note ? { note: r.note } : {}) }));
      const from = steps.find((x) => x.state === 'pending')?.name ?? '(nothing left)';
      const resumedNote = `resumed by ${host} (attempt ${t.rows[0].attempts}), continuing at step "${from}"`;
      await q.query('insert into task_log (task_id, line) values ($1, $2)', [resumeId, resumedNote]);
      return { id: resumeId, startedAt: t.rows[0].started_at.toISOString(), attempts: t.rows[0].attempts, steps, resumedNote };
    }
    const t = await q.query<{ id: string; started_at: Date }>(
      `insert into tasks (kind, target, params, lock_key, host) values ($1, $2, $3, $4, $5) returning id, started_at`,
      [def.kind, def.target, JSON.stringify(def.params ?? {}), lockKey, host]);
    const id = t.rows[0].id;
    await q.query(`insert into task_steps (task_id, idx, name) select $1, i - 1, n from unnest($2::text[]) with ordinality as x(n, i)`, [id, names]);
    return { id, startedAt: t.rows[0].started_at.toISOString(), attempts: 1, steps: names.map((name) => ({ name, state: 'pending' as StepState, progress: 0 })) };
  });
}

async function latestTask(q: Queryable, kind: string, target: string): Promise<Prior | undefined> {
  const r = await q.query<Prior>(
    `select t.id, t.state, t.lock_key, t.attempts,
            array(select name from task_steps s where s.task_id = t.id order by idx) as steps
       from tasks t where t.kind = $1 and t.target = $2 order by t.started_at desc limit 1`,
    [kind, target]);
  return r.rows[0];
}
