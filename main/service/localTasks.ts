import { randomUUID } from 'node:crypto';
import { VlxError } from '../errors.js';
import type { StepState, TaskEvent, TaskSummary } from '../tasks/types.js';

/**
 * Tasks that run in this process without the cluster database: building the lab is what
 * brings the database into being, so it cannot be recorded there. They speak the same
 * TaskEvent as DB tasks, so the Tasks screen and progress bars need no second path; they
 * are forgotten when the app exits (the lab work itself is idempotent: run it again).
 */
export interface LocalStepApi {
  /** Enter a step (earlier steps are marked done). */
  step(name: string, note?: string): void;
  log(line: string): void;
  signal: AbortSignal;
}

interface Entry {
  summary: TaskSummary;
  log: { at: string; line: string }[];
  abort: AbortController;
}

const MAX_KEPT = 50;

export class LocalTasks {
  private readonly tasks = new Map<string, Entry>();

  constructor(private readonly emit: (ev: TaskEvent) => void) {}

  start(kind: string, target: string, steps: string[], run: (api: LocalStepApi) => Promise<void | Record<string, unknown>>): string {
    const id = `local-${randomUUID()}`;
    const entry: Entry = {
      summary: {
        id, kind, target, state: 'running', progress: 0, startedAt: new Date().toISOString(),
        steps: steps.map((name) => ({ name, state: 'pending' as StepState, progress: 0 })),
      },
      log: [],
      abort: new AbortController(),
    };
    this.tasks.set(id, entry);
    this.trim();
    const publish = () => this.emit({ type: 'task', task: structuredClone(entry.summary) });
    const s = entry.summary;
    const api: LocalStepApi = {
      signal: entry.abort.signal,
      step: (name, note) => {
        const at = s.steps.findIndex((x) => x.name === name);
        const now = s.steps.findIndex((x) => x.name === s.currentStep);
        // Steps only move forward: a late message of an earlier phase is a log line, not a step back.
        if (at < 0 || at < now) return;
        if (at === now) { if (note) { s.steps[at]!.note = note; publish(); } return; }
        s.steps.forEach((x, i) => {
          if (i < at && x.state !== 'done') { x.state = 'done'; x.progress = 1; }
        });
        const cur = s.steps[at]!;
        cur.state = 'running';
        if (note) cur.note = note;
        s.currentStep = name;
        s.progress = at / s.steps.length;
        publish();
      },
      log: (line) => {
        const ev = { at: new Date().toISOString(), line };
        entry.log.push(ev);
        this.emit({ type: 'log', taskId: id, ...ev });
      },
    };
    publish();
    void (async () => {
      try {
        const result = await run(api);
        if (result) s.result = JSON.parse(JSON.stringify(result)) as Record<string, unknown>;
        for (const x of s.steps) { x.state = x.state === 'pending' ? 'skipped' : 'done'; if (x.state === 'done') x.progress = 1; }
        s.state = 'succeeded';
        s.progress = 1;
      } catch (e) {
        const err = e instanceof VlxError ? e : new VlxError('internal', e instanceof Error ? e.message : String(e));
        const failed = s.steps.find((x) => x.state === 'running');
        if (failed) failed.state = 'failed';
        s.state = entry.abort.signal.aborted ? 'cancelled' : 'failed';
        s.error = { code: err.code, message: err.message, ...(failed ? { step: failed.name } : {}) };
        api.log(`error: ${err.message}${err.hint ? ` (${err.hint})` : ''}`);
      }
      delete s.currentStep;
      s.endedAt = new Date().toISOString();
      publish();
    })();
    return id;
  }

  list(): TaskSummary[] {
    return [...this.tasks.values()].map((e) => structuredClone(e.summary)).reverse();
  }

  get(id: string): { task: TaskSummary; log: { at: string; line: string }[] } | undefined {
    const e = this.tasks.get(id);
    return e ? { task: structuredClone(e.summary), log: [...e.log] } : undefined;
  }

  cancel(id: string): boolean {
    const e = this.tasks.get(id);
    if (!e) return false;
    if (e.summary.state === 'running') e.abort.abort();
    return true;
  }

  private trim(): void {
    for (const [id, e] of this.tasks) {
      if (this.tasks.size <= MAX_KEPT) break;
      if (e.summary.state !== 'running') this.tasks.delete(id);
    }
  }
}
