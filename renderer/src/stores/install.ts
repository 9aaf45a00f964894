import { create } from 'zustand';
import type { InstallCheck, Output } from '../../../main/api/contract.js';
import { api, shown, type ShownError } from '../api.js';
import { configFromForm, formFromConfig, knownMacs, withMacs, type FieldTexts, type NodeRow } from './install.logic.js';

/** How long typing pauses before the form is checked (one round trip to the cluster). */
const CHECK_AFTER_MS = 250;
/** How often the DHCP log is read while watching for machines powering on. */
const WATCH_EVERY_MS = 1500;

type MacErrors = Output<'install.parseMacs'>['errors'];

export interface Watch {
  node?: string;
  cursor?: number;
  /** MACs seen, in order, waiting for the admin to confirm each */
  seen: string[];
  /** MACs the admin said are not nodes: not offered again */
  ignored: string[];
  error?: ShownError;
}

interface InstallStore {
  loading: boolean;
  loadError?: ShownError;
  fields: FieldTexts;
  nodes: NodeRow[];
  /** the service's answer for the form as it is now (undefined while none came yet) */
  check?: InstallCheck;
  /** the last plan the service accepted: its host names and derived addresses as placeholders */
  lastPlan?: Pick<InstallCheck, 'nodes' | 'derived'>;
  checking: boolean;
  checkError?: ShownError;
  macErrors?: { from: 'text' | 'csv'; errors: MacErrors };
  macError?: ShownError;
  watch?: Watch;
  taskId?: string;
  running: boolean;
  runError?: ShownError;

  loadExample(): Promise<void>;
  setField(path: string, text: string): void;
  setNode(i: number, row: Partial<NodeRow>): void;
  removeNode(i: number): void;
  addMacs(from: 'text' | 'csv', text: string): Promise<boolean>;
  startWatch(): Promise<void>;
  stopWatch(): void;
  confirmSeen(mac: string): void;
  ignoreSeen(mac: string): void;
  install(): Promise<void>;
}

let timer: ReturnType<typeof setTimeout> | undefined;
let watchTimer: ReturnType<typeof setTimeout> | undefined;
/** Only the answer to the latest check is shown: an older one may arrive after it. */
let checkSeq = 0;

export const useInstall = create<InstallStore>()((set, get) => {
  const checkSoon = () => {
    clearTimeout(timer);
    set({ checking: true });
    timer = setTimeout(() => void checkNow(), CHECK_AFTER_MS);
  };
  const checkNow = async () => {
    const seq = ++checkSeq;
    const { fields, nodes } = get();
    try {
      const check = await api().call('install.validate', { config: configFromForm(fields, nodes), cluster: true });
      if (seq === checkSeq) set({ check, checking: false, checkError: undefined, ...(check.ok ? { lastPlan: { nodes: check.nodes, derived: check.derived } } : {}) });
    } catch (e) {
      if (seq === checkSeq) set({ checking: false, checkError: shown(e) });
    }
  };
  const poll = async () => {
    const w = get().watch;
    if (!w) return;
    try {
      const known = [...knownMacs(get().nodes), ...w.seen, ...w.ignored];
      const r = await api().call('install.macs', { ...(w.node ? { node: w.node } : {}), ...(w.cursor !== undefined ? { cursor: w.cursor } : {}), known });
      const now = get().watch;
      if (!now) return; // stopped meanwhile
      const fresh = r.macs.filter((m) => !now.seen.includes(m) && !now.ignored.includes(m) && !knownMacs(get().nodes).includes(m));
      set({ watch: { ...now, node: r.node, cursor: r.cursor, seen: [...now.seen, ...fresh], error: undefined } });
    } catch (e) {
      const now = get().watch;
      if (now) set({ watch: { ...now, error: shown(e) } });
    }
    if (get().watch) watchTimer = setTimeout(() => void poll(), WATCH_EVERY_MS);
  };
  return {
    loading: false,
    fields: {},
    nodes: [],
    checking: false,
    running: false,

    async loadExample() {
      set({ loading: true, loadError: undefined, taskId: undefined, runError: undefined, macErrors: undefined });
      try {
        const { config: raw } = await api().call('install.example', {});
        // The service's answer has every default filled in; an example it refuses (a placeholder
        // key) is shown as written, with the errors next to their fields.
        const check = await api().call('install.validate', { config: raw, cluster: true });
        set({ ...formFromConfig(check.ok && check.config ? check.config : raw), check, lastPlan: check.ok ? { nodes: check.nodes, derived: check.derived } : undefined, loading: false, checking: false });
      } catch (e) {
        set({ loading: false, loadError: shown(e) });
      }
    },
    setField(path, text) {
      set({ fields: { ...get().fields, [path]: text } });
      checkSoon();
    },
    setNode(i, row) {
      set({ nodes: get().nodes.map((n, j) => (j === i ? { ...n, ...row } : n)) });
      checkSoon();
    },
    removeNode(i) {
      set({ nodes: get().nodes.filter((_, j) => j !== i) });
      checkSoon();
    },
    async addMacs(from, text) {
      try {
        const known = from === 'csv' ? [] : knownMacs(get().nodes);
        const r = await api().call('install.parseMacs', { ...(from === 'csv' ? { csv: text } : { text }), known });
        set({ macErrors: r.errors.length ? { from, errors: r.errors } : undefined, macError: undefined });
        // A file with a bad line is not taken in part: the list stays as it was until it is fixed.
        if (r.errors.length > 0 || r.entries.length === 0) return false;
        set({ nodes: withMacs(get().nodes, r.entries, from === 'csv') });
        checkSoon();
        return true;
      } catch (e) {
        set({ macError: shown(e) });
        return false;
      }
    },
    async startWatch() {
      clearTimeout(watchTimer);
      try {
        const r = await api().call('install.macs', { known: [] });
        set({ watch: { node: r.node, cursor: r.cursor, seen: [], ignored: [] } });
        watchTimer = setTimeout(() => void poll(), WATCH_EVERY_MS);
      } catch (e) {
        set({ watch: { seen: [], ignored: [], error: shown(e) } });
      }
    },
    stopWatch() {
      clearTimeout(watchTimer);
      set({ watch: undefined });
    },
    confirmSeen(mac) {
      const w = get().watch;
      if (!w) return;
      set({ watch: { ...w, seen: w.seen.filter((m) => m !== mac) }, nodes: [...get().nodes, { mac, hostname: '' }] });
      checkSoon();
    },
    ignoreSeen(mac) {
      const w = get().watch;
      if (w) set({ watch: { ...w, seen: w.seen.filter((m) => m !== mac), ignored: [...w.ignored, mac] } });
    },
    async install() {
      set({ running: true, runError: undefined });
      try {
        const { taskId } = await api().call('install.run', { config: configFromForm(get().fields, get().nodes) });
        set({ taskId, running: false });
      } catch (e) {
        set({ running: false, runError: shown(e) });
      }
    },
  };
});
