/** A workflow is an ordered list of named, idempotent steps; each run is a task in the DB. */
export interface StepContext {
  taskId: string;
  log(line: string): void;
  /** Progress within the current step, 0..1, with an optional note ("vm 3/8"). */
  progress(fraction: number, note?: string): void;
  /** Aborted when the task is cancelled; steps check it between long operations. */
  signal: AbortSignal;
}

export interface Step {
  name: string;
  run(ctx: StepContext): Promise<void>;
}

export interface WorkflowDef {
  /** e.g. 'vc.start', 'vm.move', 'db.deploy' */
  kind: string;
  /** what it acts on, e.g. VC name; a re-run of the same kind+target resumes an unfinished task */
  target: string;
  params?: Record<string, unknown>;
  steps: Step[];
  /** Held (PostgreSQL advisory lock) for the whole run, e.g. 'vc:web' */
  lockKey?: string;
}

export type TaskState = 'running' | 'succeeded' | 'failed' | 'cancelled';
export type StepState = 'pending' | 'running' | 'done' | 'failed' | 'skipped';

export interface TaskSummary {
  id: string;
  kind: string;
  target: string;
  state: TaskState;
  progress: number;
  currentStep?: string;
  error?: { code: string; message: string; step?: string; hint?: string };
  startedAt: string;
  endedAt?: string;
  /** How many runs this task took (a resume after a crash or a cancel adds one). */
  attempts?: number;
  /** The workstation process that runs (or last ran) it. */
  host?: string;
  params?: Record<string, unknown>;
  /** Marked 'running' in the DB, but no process holds its lock any more (it was killed): re-run it to resume. */
  interrupted?: boolean;
  cancelRequested?: boolean;
  /** What a finished local task produced (tasks of this process only). */
  result?: Record<string, unknown>;
  steps: { name: string; state: StepState; progress: number; note?: string }[];
}

export type TaskEvent =
  | { type: 'task'; task: TaskSummary }
  | { type: 'log'; taskId: string; at: string; line: string };
