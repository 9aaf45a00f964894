import { create } from 'zustand';
import type { DbStatus, Output, ServicesStatus } from '../../../main/api/contract.js';
import { api, shown, type ShownError } from '../api.js';

type StopResult = Output<'services.stop'>;

/**
 * The Nodes screen's own data: the cluster database and the node services. The node list
 * itself is the topology store's (one nodes.list for both screens).
 */
interface NodesStore {
  selected?: string;
  db?: DbStatus;
  /** no database yet: the cluster's config names none (deploy one) */
  noDb?: ShownError;
  dbError?: ShownError;
  dbLoading: boolean;
  migrating: boolean;
  migrated?: string[];
  dbTask?: string;
  services?: ServicesStatus;
  servicesError?: ShownError;
  servicesLoading: boolean;
  servicesTask?: string;
  stopping: boolean;
  stopped?: StopResult;
  actionError?: ShownError;

  select(node: string | undefined): void;
  loadDb(): Promise<void>;
  migrate(): Promise<void>;
  deployDb(node: string, port: number): Promise<string | undefined>;
  switchover(to: string): Promise<void>;
  loadServices(): Promise<void>;
  deployServices(): Promise<string | undefined>;
  stopServices(): Promise<void>;
}

export const useNodes = create<NodesStore>()((set, get) => ({
  dbLoading: false,
  migrating: false,
  servicesLoading: false,
  stopping: false,
  select: (selected) => set({ selected }),

  async loadDb() {
    set({ dbLoading: true });
    try {
      set({ db: await api().call('db.status', {}), dbLoading: false, dbError: undefined, noDb: undefined });
    } catch (e) {
      const err = shown(e);
      // A cluster without a database is a state to offer the deploy for, not a failure.
      set(err.code === 'not-found' ? { dbLoading: false, noDb: err, db: undefined, dbError: undefined } : { dbLoading: false, dbError: err });
    }
  },
  async migrate() {
    set({ migrating: true, actionError: undefined, migrated: undefined });
    try {
      const { applied } = await api().call('db.migrate', {});
      set({ migrating: false, migrated: applied });
      await get().loadDb();
    } catch (e) {
      set({ migrating: false, actionError: shown(e) });
    }
  },
  async switchover(to) {
    set({ actionError: undefined });
    try {
      await api().call('db.switchover', { to });
      await get().loadDb();
    } catch (e) {
      set({ actionError: shown(e) });
    }
  },
  async deployDb(node, port) {
    set({ actionError: undefined });
    try {
      const { taskId } = await api().call('db.deploy', { node, port });
      set({ dbTask: taskId });
      return taskId;
    } catch (e) {
      set({ actionError: shown(e) });
      return undefined;
    }
  },

  async loadServices() {
    set({ servicesLoading: true });
    try {
      set({ services: await api().call('services.status', {}), servicesLoading: false, servicesError: undefined });
    } catch (e) {
      set({ servicesLoading: false, servicesError: shown(e) });
    }
  },
  async deployServices() {
    set({ actionError: undefined, stopped: undefined });
    try {
      const { taskId } = await api().call('services.deploy', {});
      set({ servicesTask: taskId });
      return taskId;
    } catch (e) {
      set({ actionError: shown(e) });
      return undefined;
    }
  },
  async stopServices() {
    set({ stopping: true, actionError: undefined, stopped: undefined, servicesTask: undefined });
    try {
      const stopped = await api().call('services.stop', {});
      set({ stopping: false, stopped });
      await get().loadServices();
    } catch (e) {
      set({ stopping: false, actionError: shown(e) });
    }
  },
}));
