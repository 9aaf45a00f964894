import { create } from 'zustand';
import type { VolumeNodeT } from '../../../main/api/contract.js';
import { api, shown, type ShownError } from '../api.js';

interface VolumesStore {
  tree: VolumeNodeT[] | undefined;
  loading: boolean;
  error?: ShownError;
  collapsed: Record<string, boolean>;
  actionError?: ShownError;
  load(): Promise<void>;
  toggle(path: string): void;
  reset(path: string): Promise<void>;
  remove(path: string): Promise<void>;
  /** VC snapshots from the tree: each starts a task; the tree reloads when it ends (state.changed volumes). */
  lastTask?: string;
  takeSnapshot(vc: string, tag: string, withMemory: boolean): Promise<boolean>;
  rollback(vc: string, tag: string): Promise<void>;
  deleteSnapshot(vc: string, tag: string): Promise<void>;
}

export const useVolumes = create<VolumesStore>()((set, get) => ({
  tree: undefined,
  loading: false,
  collapsed: {},
  async load() {
    set({ loading: true });
    try {
      set({ tree: await api().call('volumes.tree', {}), loading: false, error: undefined });
    } catch (e) {
      set({ loading: false, error: shown(e) });
    }
  },
  toggle: (path) => set((s) => ({ collapsed: { ...s.collapsed, [path]: !s.collapsed[path] } })),
  async reset(path) {
    try { await api().call('volumes.reset', { path }); set({ actionError: undefined }); await get().load(); } catch (e) { set({ actionError: shown(e) }); }
  },
  async remove(path) {
    try { await api().call('volumes.delete', { path }); set({ actionError: undefined }); await get().load(); } catch (e) { set({ actionError: shown(e) }); }
  },
  async takeSnapshot(vc, tag, withMemory) {
    try {
      const { taskId } = await api().call('snapshots.take', { vc, tag, withMemory });
      set({ actionError: undefined, lastTask: taskId });
      return true;
    } catch (e) { set({ actionError: shown(e) }); return false; }
  },
  async rollback(vc, tag) {
    try { const { taskId } = await api().call('snapshots.rollback', { vc, tag }); set({ actionError: undefined, lastTask: taskId }); } catch (e) { set({ actionError: shown(e) }); }
  },
  async deleteSnapshot(vc, tag) {
    try { const { taskId } = await api().call('snapshots.delete', { vc, tag }); set({ actionError: undefined, lastTask: taskId }); } catch (e) { set({ actionError: shown(e) }); }
  },
}));

/** Depth-first rows for the tree table, skipping the children of collapsed volumes. */
export function flattenTree(tree: readonly VolumeNodeT[], collapsed: Record<string, boolean>): { v: VolumeNodeT; depth: number }[] {
  const out: { v: VolumeNodeT; depth: number }[] = [];
  const walk = (nodes: readonly VolumeNodeT[], depth: number) => {
    for (const v of nodes) {
      out.push({ v, depth });
      if (!collapsed[v.path]) walk(v.children, depth + 1);
    }
  };
  walk(tree, 0);
  return out;
}

export function fmtBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return `${v >= 100 || i === 0 ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
}
