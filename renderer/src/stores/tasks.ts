import { create } from 'zustand';
import type { TaskEvent, TaskSummary } from '../../../main/api/contract.js';
import { api, shown, type ShownError } from '../api.js';
import { emptyTasks, mergeTaskList, reduceTaskEvent, withLog, type TasksState } from './tasks.logic.js';

interface TasksStore extends TasksState {
  loading: boolean;
  error?: ShownError;
  selected?: string;
  apply(ev: TaskEvent): void;
  load(): Promise<void>;
  select(id: string | undefined): Promise<void>;
  /** one task and its log, without selecting it (a progress bar shown elsewhere) */
  fetch(id: string): Promise<void>;
  cancel(id: string): Promise<void>;
  resume(id: string): Promise<void>;
}

export const useTasks = create<TasksStore>()((set, get) => ({
  ...emptyTasks,
  loading: false,
  apply(ev) {
    set((s) => reduceTaskEvent(s, ev));
  },
  async load() {
    set({ loading: true });
    try {
      const list = await api().call('tasks.list', { limit: 100 });
      set((s) => ({ ...mergeTaskList(s, list), loading: false, error: undefined }));
    } catch (e) {
      set({ loading: false, error: shown(e) });
    }
  },
  async select(id) {
    set({ selected: id });
    if (!id) return;
    try {
      const { task, log } = await api().call('tasks.get', { id });
      set((s) => withLog(reduceTaskEvent(s, { type: 'task', task }), id, log));
    } catch (e) {
      if (!get().byId[id]) set({ error: shown(e) });
    }
  },
  async fetch(id) {
    try {
      const { task, log } = await api().call('tasks.get', { id });
      set((s) => withLog(reduceTaskEvent(s, { type: 'task', task }), id, log));
    } catch { /* the events will bring it */ }
  },
  async cancel(id) {
    try {
      await api().call('tasks.cancel', { id });
    } catch (e) {
      set({ error: shown(e) });
    }
  },
  async resume(id) {
    try {
      await api().call('tasks.resume', { id });
    } catch (e) {
      set({ error: shown(e) });
    }
  },
}));

/** A VC task that was interrupted, failed or cancelled can be run again from its first unfinished step. */
export function resumable(t: Pick<TaskSummary, 'kind' | 'state' | 'interrupted' | 'id'>): boolean {
  if (t.id.startsWith('local-') || !(t.kind.startsWith('vc.') || t.kind === 'vm.move')) return false;
  return t.interrupted === true || t.state === 'failed' || t.state === 'cancelled';
}

/** Called by the boot code: every task event goes through the reducer. */
export function followTaskEvents(): () => void {
  return api().on('task', (ev) => useTasks.getState().apply(ev));
}
