import { create } from 'zustand';
import type { ExecResultInfo } from '../../../main/api/contract.js';
import { api, shown, type ShownError } from '../api.js';
import { pushHistory, target } from './exec.logic.js';

const HISTORY_KEY = 'vlx.exec.history';

interface ExecStore {
  /** the nodes ticked in the picker */
  checked: string[];
  /** whether the picker has been set once (by default every node that is up is ticked) */
  picked: boolean;
  command: string;
  running: boolean;
  /** what was run, where, and what came back */
  last?: { command: string; nodes: string[]; results: ExecResultInfo[]; at: string };
  error?: ShownError;
  history: string[];
  setChecked(nodes: string[]): void;
  setCommand(c: string): void;
  run(allNodes: string[]): Promise<void>;
}

function storedHistory(): string[] {
  try {
    const v: unknown = JSON.parse(localStorage.getItem(HISTORY_KEY) ?? '[]');
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
  } catch { return []; }
}

export const useExec = create<ExecStore>()((set, get) => ({
  checked: [],
  picked: false,
  command: '',
  running: false,
  history: storedHistory(),
  setChecked: (checked) => set({ checked, picked: true }),
  setCommand: (command) => set({ command, error: undefined }),
  async run(allNodes) {
    const { command, checked, running } = get();
    if (running) return;
    if (!command.trim()) { set({ error: { code: 'invalid-input', message: 'Type a command to run.' } }); return; }
    if (checked.length === 0) { set({ error: { code: 'invalid-input', message: 'Choose at least one node to run it on.' } }); return; }
    const history = pushHistory(get().history, command);
    try { localStorage.setItem(HISTORY_KEY, JSON.stringify(history)); } catch { /* kept for this session only */ }
    set({ running: true, error: undefined, history });
    try {
      const results = await api().call('exec.run', { nodes: target(checked, allNodes), command });
      set({ running: false, last: { command, nodes: [...checked], results, at: new Date().toISOString() } });
    } catch (e) {
      set({ running: false, error: shown(e) });
    }
  },
}));
