import { create } from 'zustand';
import type { EvacuationPlan } from '../../../main/api/contract.js';
import { api, shown, type ShownError } from '../api.js';
import { useTasks } from './tasks.js';
import { useTopology } from './topology.js';

type Mode = 'live' | 'cold' | 'stop';
/** A running VM's way out when live migration is not to be had; main's rule (node.evacuatePlan) says what it does. */
export type Fallback = 'none' | 'cold' | 'stop';

interface EvacuationStore {
  /** the lane being dragged (its node) */
  dragging: string | undefined;
  over: string | undefined;
  /** the node the confirmation is about, open while set */
  node: string | undefined;
  mode: Mode;
  fallback: Fallback;
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
  /** the fallback changed: main plans again, and the table shows each VM's action under it */
  setFallback(fallback: Fallback): Promise<void>;
  close(): void;
  confirm(): Promise<string | undefined>;
}

export const useEvacuation = create<EvacuationStore>()((set, get) => ({
  dragging: undefined,
  over: undefined,
  node: undefined,
  mode: 'live',
  fallback: 'none',
  plan: undefined,
  loading: false,
  error: undefined,
  running: {},

  startDrag: (node) => set({ dragging: node, over: undefined }),
  dragOver(node) { if (get().over !== node) set({ over: node }); },
  endDrag: () => set({ dragging: undefined, over: undefined }),

  async open(node) {
    set({ node, plan: undefined, error: undefined, dragging: undefined, over: undefined });
    await replan();
  },
  async setMode(mode) {
    if (!get().node) return;
    set({ mode });
    await replan();
  },
  async setFallback(fallback) {
    if (!get().node) return;
    set({ fallback });
    await replan();
  },
  close: () => set({ node: undefined, plan: undefined, error: undefined, loading: false }),

  async confirm() {
    const { node, mode, fallback, plan } = get();
    if (!node || !plan) return undefined;
    set({ loading: true });
    try {
      // The choice the admin saw planned: the task plans again with the same mode and fallback.
      const { taskId } = await api().call('node.evacuate', { node, mode, fallback });
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

/**
 * Asks main for the plan under the dialog's current choice. The answer of a closed or re-opened
 * dialog, or of a choice since changed, is dropped: the table only ever shows the plan for
 * what the radios say.
 */
async function replan(): Promise<void> {
  const { node, mode, fallback } = useEvacuation.getState();
  if (!node) return;
  const current = () => { const s = useEvacuation.getState(); return s.node === node && s.mode === mode && s.fallback === fallback; };
  useEvacuation.setState({ loading: true, error: undefined });
  try {
    const plan = await api().call('node.evacuatePlan', { node, mode, fallback });
    if (current()) useEvacuation.setState({ plan, loading: false });
  } catch (e) {
    if (current()) useEvacuation.setState({ plan: undefined, loading: false, error: shown(e) });
  }
}
