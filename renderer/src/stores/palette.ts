import { create } from 'zustand';
import type { Choice } from '../actions/types.js';
import { remember } from './palette.logic.js';

const RECENT_KEY = 'vlx.palette.recent';

/** An action waiting for its arguments: the palette lists the choices of its next step. */
export interface Pending {
  actionId: string;
  picked: string[];
  /** the labels of what was picked, shown as a breadcrumb */
  trail: string[];
  prompt: string;
  none: string;
  choices?: Choice[];
  error?: string;
}

interface PaletteStore {
  open: boolean;
  query: string;
  index: number;
  pending?: Pending;
  /** a line shown above the list: why the last action could not run */
  notice?: string;
  recent: string[];
  show(notice?: string): void;
  hide(): void;
  setQuery(q: string): void;
  setIndex(i: number): void;
  ask(p: Pending): void;
  used(id: string): void;
}

function storedRecent(): string[] {
  try {
    const v: unknown = JSON.parse(localStorage.getItem(RECENT_KEY) ?? '[]');
    return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string').slice(0, 12) : [];
  } catch { return []; }
}

export const usePalette = create<PaletteStore>()((set, get) => ({
  open: false,
  query: '',
  index: 0,
  recent: storedRecent(),
  show: (notice) => set({ open: true, query: '', index: 0, pending: undefined, notice }),
  hide: () => set({ open: false, query: '', index: 0, pending: undefined, notice: undefined }),
  setQuery: (query) => set({ query, index: 0 }),
  setIndex: (index) => set({ index }),
  ask: (pending) => set({ open: true, query: '', index: 0, pending, notice: undefined }),
  used(id) {
    const recent = remember(get().recent, id);
    set({ recent });
    try { localStorage.setItem(RECENT_KEY, JSON.stringify(recent)); } catch { /* not kept: fine */ }
  },
}));
