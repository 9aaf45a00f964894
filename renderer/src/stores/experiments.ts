import { create } from 'zustand';
import { EXPERIMENT_KINDS, type ExperimentRow, type ExperimentRunInfo, type VcInfo } from '../../../main/api/contract.js';
import { api, shown, type ShownError } from '../api.js';

export type ExperimentKind = (typeof EXPERIMENT_KINDS)[number];
/** Runs of one kind plotted together by default: enough to compare, few enough to read. */
export const DEFAULT_SHOWN = 3;

interface ExperimentsStore {
  runs: ExperimentRunInfo[] | undefined;
  error?: ShownError;
  loading: boolean;
  /** Run ids shown on each kind's charts. */
  shown: Record<ExperimentKind, number[]>;
  rows: Record<number, ExperimentRow[]>;
  vcs: VcInfo[];
  tasks: { taskId: string; what: string }[];
  actionError?: ShownError;
  load(): Promise<void>;
  toggle(kind: ExperimentKind, id: number): Promise<void>;
  run(input: { kind: ExperimentKind; vc: string; seconds: number; outside?: string }): Promise<string | undefined>;
}

const none = (): Record<ExperimentKind, number[]> => ({ 'os-overhead': [], network: [], storage: [], mpi: [] });

export const useExperiments = create<ExperimentsStore>()((set, get) => ({
  runs: undefined,
  loading: false,
  shown: none(),
  rows: {},
  vcs: [],
  tasks: [],
  async load() {
    set({ loading: true });
    try {
      const [runs, vcs] = await Promise.all([api().call('experiments.list', { limit: 200 }), api().call('vc.list', {}).catch(() => [] as VcInfo[])]);
      // A kind with nothing chosen yet shows its latest runs; a choice stays as long as its runs exist.
      const shown = none();
      for (const k of EXPERIMENT_KINDS) {
        const ids = runs.filter((r) => r.kind === k).map((r) => r.id);
        const kept = get().shown[k].filter((id) => ids.includes(id));
        shown[k] = kept.length ? kept : ids.slice(0, DEFAULT_SHOWN);
      }
      const want = Object.values(shown).flat().filter((id) => !get().rows[id]);
      const fetched = want.length ? await api().call('experiments.rows', { ids: want }) : [];
      const rows = { ...get().rows };
      for (const id of want) rows[id] = fetched.filter((r) => r.runId === id);
      set({ runs, vcs, shown, rows, loading: false, error: undefined });
    } catch (e) {
      set({ loading: false, error: shown(e) });
    }
  },
  async toggle(kind, id) {
    const cur = get().shown[kind];
    const next = cur.includes(id) ? cur.filter((x) => x !== id) : [...cur, id];
    set({ shown: { ...get().shown, [kind]: next } });
    if (!get().rows[id]) {
      try {
        const rows = await api().call('experiments.rows', { ids: [id] });
        set({ rows: { ...get().rows, [id]: rows } });
      } catch (e) {
        set({ actionError: shown(e) });
      }
    }
  },
  async run(input) {
    set({ actionError: undefined });
    try {
      const { taskId } = await api().call('experiments.run', input);
      set({ tasks: [{ taskId, what: `${input.kind} on ${input.vc}` }, ...get().tasks] });
      return taskId;
    } catch (e) {
      set({ actionError: shown(e) });
      return undefined;
    }
  },
}));
