import type { TaskEvent, TaskSummary } from '../../../main/api/contract.js';

export interface LogLine { at: string; line: string }

export interface TasksState {
  byId: Record<string, TaskSummary>;
  /** newest first */
  order: string[];
  logs: Record<string, LogLine[]>;
}

export const MAX_TASKS = 200;
export const MAX_LOG_LINES = 5000;

export const emptyTasks: TasksState = { byId: {}, order: [], logs: {} };

function place(order: string[], id: string, byId: Record<string, TaskSummary>): string[] {
  const rest = order.filter((x) => x !== id);
  const started = byId[id]!.startedAt;
  const at = rest.findIndex((x) => (byId[x]?.startedAt ?? '') < started);
  const next = at < 0 ? [...rest, id] : [...rest.slice(0, at), id, ...rest.slice(at)];
  return next;
}

function trim(state: TasksState): TasksState {
  if (state.order.length <= MAX_TASKS) return state;
  // Drop the oldest finished tasks first; a running task is never forgotten.
  const keep = new Set(state.order.filter((id) => state.byId[id]?.state === 'running'));
  for (const id of state.order) {
    if (keep.size >= MAX_TASKS) break;
    keep.add(id);
  }
  const order = state.order.filter((id) => keep.has(id));
  const byId: Record<string, TaskSummary> = {};
  const logs: Record<string, LogLine[]> = {};
  for (const id of order) {
    byId[id] = state.byId[id]!;
    if (state.logs[id]) logs[id] = state.logs[id]!;
  }
  return { byId, order, logs };
}

/**
 * One task event into the state. Summaries replace what we had, except that an event older
 * than what we hold (a finished task reported running by a late event) does not undo the end.
 */
export function reduceTaskEvent(state: TasksState, ev: TaskEvent): TasksState {
  if (ev.type === 'log') {
    const prev = state.logs[ev.taskId] ?? [];
    const lines = prev.length >= MAX_LOG_LINES ? prev.slice(prev.length - MAX_LOG_LINES + 1) : prev;
    return { ...state, logs: { ...state.logs, [ev.taskId]: [...lines, { at: ev.at, line: ev.line }] } };
  }
  const task = ev.task;
  const had = state.byId[task.id];
  if (had && had.state !== 'running' && task.state === 'running' && had.endedAt) return state;
  const byId = { ...state.byId, [task.id]: task };
  return trim({ ...state, byId, order: had && had.startedAt === task.startedAt ? state.order : place(state.order, task.id, byId) });
}

/** A fresh list from tasks.list merged in (events may have arrived before it). */
export function mergeTaskList(state: TasksState, tasks: TaskSummary[]): TasksState {
  let s = state;
  for (const t of tasks) {
    const had = s.byId[t.id];
    if (had && had.state !== 'running' && t.state === 'running') continue;
    s = reduceTaskEvent(s, { type: 'task', task: t });
  }
  return s;
}

export function withLog(state: TasksState, id: string, log: LogLine[]): TasksState {
  return { ...state, logs: { ...state.logs, [id]: log.slice(-MAX_LOG_LINES) } };
}

/** The step that failed and why, as the Tasks screen says it. */
export function failure(task: TaskSummary): { step?: string; message: string } | undefined {
  if (task.state !== 'failed') return undefined;
  const step = task.error?.step ?? task.steps.find((s) => s.state === 'failed')?.name;
  return { ...(step ? { step } : {}), message: task.error?.message ?? 'failed without a message' };
}

export function runningFirst(state: TasksState): TaskSummary[] {
  const all = state.order.map((id) => state.byId[id]!).filter(Boolean);
  return [...all.filter((t) => t.state === 'running'), ...all.filter((t) => t.state !== 'running')];
}

export const KIND_LABELS: Record<string, string> = {
  'lab.up': 'Start local lab',
  'lab.down': 'Tear down local lab',
  'vc.create': 'Create virtual cluster',
  'vc.start': 'Start virtual cluster',
  'vc.stop': 'Stop virtual cluster',
  'vc.save': 'Save virtual cluster',
  'vc.restore': 'Restore virtual cluster',
  'vc.destroy': 'Destroy virtual cluster',
  'vm.move': 'Move VM',
  'image.build': 'Build image',
  'image.import': 'Import image',
  'db.deploy': 'Deploy database on',
  'services.deploy': 'Deploy node services of',
};

export function taskTitle(t: Pick<TaskSummary, 'kind' | 'target'>): string {
  return `${KIND_LABELS[t.kind] ?? t.kind} ${t.target}`.trim();
}
