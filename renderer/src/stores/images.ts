import { create } from 'zustand';
import type { ImageDetail, ImageInfo } from '../../../main/api/contract.js';
import { api, shown, type ShownError } from '../api.js';

export type ImageKind = 'tiny' | 'tiny-bench' | 'debian-12';
export const IMAGE_KINDS: { kind: ImageKind; label: string; about: string }[] = [
  { kind: 'tiny', label: 'Tiny', about: 'a minimal Linux that boots in seconds: for trying VCs out and for tests' },
  { kind: 'tiny-bench', label: 'Tiny bench', about: 'the tiny guest with the experiments’ probe tools (sysbench, iperf3)' },
  { kind: 'debian-12', label: 'Debian 12', about: 'a full Debian guest; takes minutes to build' },
];

interface ImagesStore {
  list: ImageInfo[] | undefined;
  loading: boolean;
  error?: ShownError;
  selected?: string;
  /** the tasks started from this screen, newest first: build or import, and for what */
  tasks: { taskId: string; what: string }[];
  actionError?: ShownError;
  detail?: ImageDetail;
  detailError?: ShownError;
  load(): Promise<void>;
  select(name: string | undefined): Promise<void>;
  build(kind: ImageKind, name?: string): Promise<string | undefined>;
  importFile(file: string, name: string): Promise<string | undefined>;
}

export const useImages = create<ImagesStore>()((set, get) => ({
  list: undefined,
  loading: false,
  tasks: [],
  async load() {
    set({ loading: true });
    try {
      set({ list: await api().call('images.list', {}), loading: false, error: undefined });
    } catch (e) {
      set({ loading: false, error: shown(e) });
    }
  },
  async select(selected) {
    set({ selected, detailError: undefined, ...(get().detail?.name !== selected ? { detail: undefined } : {}) });
    if (!selected) return;
    try {
      const detail = await api().call('images.info', { name: selected });
      if (get().selected === selected) set({ detail });
    } catch (e) {
      if (get().selected === selected) set({ detailError: shown(e) });
    }
  },
  async importFile(file, name) {
    set({ actionError: undefined });
    try {
      const { taskId } = await api().call('images.import', { file, name });
      set({ tasks: [{ taskId, what: `Import ${name}` }, ...get().tasks] });
      return taskId;
    } catch (e) {
      set({ actionError: shown(e) });
      return undefined;
    }
  },
  async build(kind, name) {
    set({ actionError: undefined });
    try {
      const { taskId } = await api().call('images.build', { kind, ...(name ? { name } : {}) });
      set({ tasks: [{ taskId, what: name && name !== kind ? `Build ${name} (${kind})` : `Build ${kind}` }, ...get().tasks] });
      return taskId;
    } catch (e) {
      set({ actionError: shown(e) });
      return undefined;
    }
  },
}));
