import { create } from 'zustand';
import type { DbStatus, MoveResult, NodeInfo, VcInfo } from '../../../main/api/contract.js';
import { api, shown, type ShownError } from '../api.js';
import { useTasks } from './tasks.js';
import { busyFor, type TaskBrief } from './topology.status.logic.js';
import { dragSet, layoutTopology, planMove, selectChip, splitKey, type Layout, type Modifiers, type MovePlan, type VmKey } from './topology.logic.js';

export interface MoveState {
  to: string;
  taskId?: string;
  state: 'moving' | 'done' | 'failed';
  error?: string;
}

interface TopologyStore {
  nodes: NodeInfo[] | undefined;
  vcs: VcInfo[] | undefined;
  layout: Layout;
  loading: boolean;
  error?: ShownError;
  /** VMs could not be listed: lanes are shown without chips and say why */
  vcsError?: ShownError;
  selection: VmKey[];
  anchor?: VmKey;
  /** chips being dragged, and the lane under the pointer */
  dragging: VmKey[] | undefined;
  over: string | undefined;
  /** the confirmation dialog, open while set */
  plan: MovePlan | undefined;
  moves: Record<VmKey, MoveState>;
  /** the cluster database's members (db.status), refreshed with the lanes; dbError: why it is unknown */
  db: DbStatus | undefined;
  dbError: string | undefined;
  /** the last drag the move rule refused as it started (a chip in transit), and why */
  refused: { key: VmKey; reason: string; at: number } | undefined;
  refuseDrag(key: VmKey, reason: string): void;

  load(): Promise<void>;
  loadDb(): Promise<void>;
  setData(nodes: NodeInfo[], vcs: VcInfo[]): void;
  select(key: VmKey, mods?: Modifiers): void;
  clearSelection(): void;
  startDrag(key: VmKey): void;
  dragOver(node: string | undefined): void;
  endDrag(): void;
  /** drop (or "Move to…"): computes what will happen and opens the confirmation */
  proposeMove(to: string, keys?: VmKey[]): void;
  cancelMove(): void;
  confirmMove(): Promise<MoveResult[]>;
  taskEnded(taskId: string, ok: boolean, error?: string, target?: string): void;
}

const emptyLayout = layoutTopology([], []);
let dbAsking = false;

export const useTopology = create<TopologyStore>()((set, get) => ({
  nodes: undefined,
  vcs: undefined,
  layout: emptyLayout,
  loading: false,
  selection: [],
  dragging: undefined,
  over: undefined,
  plan: undefined,
  moves: {},
  db: undefined,
  dbError: undefined,
  refused: undefined,
  refuseDrag: (key, reason) => set({ refused: { key, reason, at: Date.now() }, dragging: undefined, over: undefined }),

  async load() {
    set({ loading: true });
    // Nodes are the frame; without VMs the lanes still say what each node is and runs.
    const [nodes, vcs] = await Promise.allSettled([api().call('nodes.list', {}), api().call('vc.list', {})]);
    if (nodes.status === 'rejected') { set({ loading: false, error: shown(nodes.reason) }); return; }
    get().setData(nodes.value, vcs.status === 'fulfilled' ? vcs.value : get().vcs ?? []);
    set({ loading: false, error: undefined, vcsError: vcs.status === 'rejected' ? shown(vcs.reason) : undefined });
  },

  async loadDb() {
    // A member that does not answer makes a status slow: the poll never stacks asks.
    if (dbAsking) return;
    dbAsking = true;
    try {
      set({ db: await api().call('db.status', {}), dbError: undefined });
    } catch (e) {
      // A cluster with no database yet says so in its own words; the bar then says nothing.
      const err = shown(e);
      set({ db: undefined, dbError: err.code === 'not-found' ? undefined : err.message });
    } finally {
      dbAsking = false;
    }
  },

  setData(nodes, vcs) {
    const layout = layoutTopology(nodes, vcs);
    set((s) => ({ nodes, vcs, layout, selection: s.selection.filter((k) => layout.chips.has(k)) }));
  },

  select(key, mods) {
    const order = [...get().layout.lanes.flatMap((l) => l.chips.map((c) => c.key)), ...get().layout.unplaced.map((c) => c.key)];
    set((s) => selectChip(s.selection, s.anchor, key, order, mods));
  },
  clearSelection: () => set({ selection: [], anchor: undefined }),

  startDrag(key) {
    const keys = dragSet(get().selection, key);
    set((s) => ({ dragging: keys, selection: s.selection.includes(key) ? s.selection : [key], anchor: s.selection.includes(key) ? s.anchor : key }));
  },
  dragOver(node) {
    if (get().over !== node) set({ over: node });
  },
  endDrag: () => set({ dragging: undefined, over: undefined }),

  proposeMove(to, keys) {
    const moving = keys ?? get().dragging ?? get().selection;
    if (moving.length === 0) return;
    // A VM a live task acts on is refused by the domain's rule, as vm.planMove would.
    const tasks = runningTasks();
    const busy = (key: VmKey) => { const { vc, vm } = splitKey(key); return busyFor(vc, vm, tasks, get().moves[key]); };
    set({ plan: planMove(get().layout, moving, to, busy), dragging: undefined, over: undefined });
  },
  cancelMove: () => set({ plan: undefined }),

  async confirmMove() {
    const plan = get().plan;
    if (!plan) return [];
    set({ plan: undefined });
    const go = plan.items.filter((i) => i.action === 'migrate' || i.action === 'relocate');
    if (go.length === 0) return [];
    set((s) => ({ moves: { ...s.moves, ...Object.fromEntries(go.map((i) => [i.key, { to: plan.to, state: 'moving' as const }])) } }));
    let results: MoveResult[];
    try {
      results = await api().call('vm.move', { vms: go.map((i) => ({ vc: i.vc, vm: i.vm })), to: plan.to });
    } catch (e) {
      const err = shown(e).message;
      results = go.map((i) => ({ vc: i.vc, vm: i.vm, ok: false, error: { code: 'internal', message: err } }));
    }
    set((s) => {
      const moves = { ...s.moves };
      for (const r of results) {
        const key = `${r.vc}/${r.vm}`;
        moves[key] = r.ok
          ? { to: plan.to, state: 'moving', ...(r.taskId ? { taskId: r.taskId } : {}) }
          : { to: plan.to, state: 'failed', error: r.error?.message ?? 'refused' };
      }
      return { moves };
    });
    // A task that ended before the answer arrived has already sent its last event.
    for (const r of results) {
      const t = r.taskId ? useTasks.getState().byId[r.taskId] : undefined;
      if (t && t.state !== 'running') get().taskEnded(t.id, t.state === 'succeeded', t.error?.message);
    }
    return results;
  },

  taskEnded(taskId, ok, error, target) {
    // By id, or by the VM it moved: with several VMs of one VC, a task can end before vm.move answers.
    const entry = Object.entries(get().moves).find(([k, m]) => m.taskId === taskId || (m.state === 'moving' && !m.taskId && k === target));
    if (!entry) return;
    const [key, m] = entry;
    set((s) => ({ moves: { ...s.moves, [key]: { ...m, state: ok ? 'done' : 'failed', ...(error ? { error } : {}) } } }));
    if (ok) {
      // The chip lands: forget the move once fresh data shows the VM on its new node.
      void get().load().then(() => set((s) => {
        const { [key]: _, ...rest } = s.moves;
        return { moves: rest };
      }));
    }
  },
}));

/** The tasks that run now, as the chips' transit and the move rule read them. */
export function runningTasks(): TaskBrief[] {
  const t = useTasks.getState();
  return t.order.map((id) => t.byId[id]).filter((x): x is NonNullable<typeof x> => x?.state === 'running');
}

export { splitKey };
