import { create } from 'zustand';
import type { InstallStatus } from '../../../main/api/contract.js';
import { api, shown, type ShownError } from '../api.js';

export type RestoreChoice = 'rebuild-config' | 'reset-all' | 'reset-node' | 'update-original';

export interface RestoreRequest {
  choice: RestoreChoice;
  node?: number;
  formatShared: boolean;
  force: boolean;
  image?: string;
  /** the container's name as typed (the service checks it) */
  confirm?: string;
}

interface RestoreStore {
  open: boolean;
  status?: InstallStatus;
  loading: boolean;
  loadError?: ShownError;
  taskId?: string;
  starting: boolean;
  runError?: ShownError;
  show(): void;
  close(): void;
  load(): Promise<void>;
  run(r: RestoreRequest): Promise<void>;
}

export const useRestore = create<RestoreStore>()((set) => ({
  open: false,
  loading: false,
  starting: false,
  show() {
    set({ open: true, taskId: undefined, runError: undefined });
    void useRestore.getState().load();
  },
  close: () => set({ open: false }),
  async load() {
    set({ loading: true });
    try {
      set({ status: await api().call('install.status', {}), loading: false, loadError: undefined });
    } catch (e) {
      set({ loading: false, loadError: shown(e) });
    }
  },
  async run(r) {
    set({ starting: true, runError: undefined, taskId: undefined });
    try {
      const confirm = r.confirm ? { confirm: r.confirm } : {};
      const { taskId } = r.choice === 'update-original'
        ? await api().call('install.updateOriginal', { ...(r.image ? { image: r.image } : {}), force: r.force, ...confirm })
        : await api().call('restore.run', {
          action: r.choice, ...(r.choice === 'reset-node' && r.node !== undefined ? { node: r.node } : {}),
          formatShared: r.formatShared, force: r.force, ...confirm,
        });
      set({ taskId, starting: false });
    } catch (e) {
      set({ starting: false, runError: shown(e) });
    }
  },
}));
