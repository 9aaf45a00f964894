import { create } from 'zustand';
import type { EvacuationPlan } from '../../../main/api/contract.js';
import { api, shown, type ShownError } from '../api.js';
import { useTasks } from './tasks.js';
import { useTopology } from './topology.js';

type Mode = 'live' | 'cold' | 'stop';

interface EvacuationStore {
  /** the lane being dragged (its node) */
  dragging: string | undefined;
  over: string | undefined;
  /** the node the confirmation is about, open while set */
  node: string | undefined;
  mode: Mode;
  plan: EvacuationPlan | undefined;
  loading: boolean;
  error: ShownError | undefined;
  /** evacuations this window started, by node: their task */
  running: Record<string, string>;
  startDrag(node: string): void;
  dragOver(node: string | undefined): void;
  endDrag(): void;
  /** a lane dropped on another lane, or its menu's Evacuate…: asks main for the plan and shows it */
  open(node: string): Promise<void>;
  setMode(mode: Mode): Promise<void>;
  close(): void;
  confirm(): Promise<string | undefined>;
}

export const useEvacuation = create<EvacuationStore>()((set, get) => ({
  dragging: undefined,
  over: undefined,
  node: undefined,
  mode: 'live',
  plan: undefined,
  loading: false,
  error: undefined,
  running: {},

  startDrag: (node) => set({ dragging: node, over: undefined }),
  dragOver(node) { if (get().over !== node) set({ over: node }); },
  endDrag: () => set({ dragging: undefined, over: undefined }),

  async open(node) {
    set({ node, plan: undefined, error: undefined, dragging: undefined, over: undefined });
    await get().setMode(get().mode);
  },
  async setMode(mode) {
    const node = get().node;
    if (!node) return;
    set({ mode, loading: true, error: undefined });
    try {
      const plan = await api().call('node.evacuatePlan', { node, mode });
      // The answer of a closed or re-opened dialog is dropped.
      if (get().node === node && get().mode === mode) set({ plan, loading: false });
    } catch (e) {
      if (get().node === node) set({ plan: undefined, loading: false, error: shown(e) });
    }
  },
  close: () => set({ node: undefined, plan: undefined, error: undefined, loading: false }),

  async confirm() {
    const { node, mode, plan } = get();
    if (!node || !plan) return undefined;
    set({ loading: true });
    try {
      const { taskId } = await api().call('node.evacuate', { node, mode });
      set((s) => ({ node: undefined, plan: undefined, loading: false, running: { ...s.running, [node]: taskId } }));
      void useTasks.getState().fetch(taskId);
      void useTopology.getState().load();
      return taskId;
    } catch (e) {
      set({ loading: false, error: shown(e) });
      return undefined;
    }
  },
}));
