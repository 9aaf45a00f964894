import { create } from 'zustand';
import type { ClusterInfo, HostKeyProbe, LabMachine, LabStatus } from '../../../main/api/contract.js';
import { api, shown, type ShownError } from '../api.js';

export interface ConnectForm { name: string; address: string; port: string; user: string; keyFile: string }

/** The add-cluster flow: fill in → see the host key → trust it → added. */
export type ConnectStep =
  | { step: 'form' }
  | { step: 'probing' }
  | { step: 'confirm'; probe: HostKeyProbe }
  | { step: 'adding' }
  | { step: 'done'; cluster: ClusterInfo };

interface ClustersStore {
  clusters: ClusterInfo[] | undefined;
  current?: string;
  loading: boolean;
  error?: ShownError;
  form: ConnectForm;
  flow: ConnectStep;
  flowError?: ShownError;
  lab: LabStatus | undefined;
  labError?: ShownError;
  labTask?: string;
  labForm: { nodes: string; cores: string; memMb: string };
  /** the lab's disk-less machines (QEMU booting from the network) */
  machines?: LabMachine[];
  machinesError?: ShownError;
  machineBusy?: string;

  load(): Promise<void>;
  use(name: string): Promise<void>;
  remove(name: string): Promise<void>;
  setForm(f: Partial<ConnectForm>): void;
  probe(): Promise<void>;
  trustAndAdd(): Promise<void>;
  resetFlow(): void;
  setLabForm(f: Partial<ClustersStore['labForm']>): void;
  loadLab(): Promise<void>;
  labUp(): Promise<void>;
  labDown(): Promise<void>;
  crash(node: string): Promise<void>;
  revive(node: string): Promise<void>;
  loadMachines(): Promise<void>;
  powerOn(name: string): Promise<void>;
  powerOff(name: string): Promise<void>;
}

export function formErrors(f: ConnectForm): Partial<Record<keyof ConnectForm, string>> {
  const e: Partial<Record<keyof ConnectForm, string>> = {};
  if (!/^[a-z][a-z0-9-]{0,31}$/.test(f.name)) e.name = 'a lowercase letter, then lowercase letters, digits or "-" (up to 32)';
  if (!/^[A-Za-z0-9][A-Za-z0-9.-]*$/.test(f.address)) e.address = 'an IPv4 address or a host name';
  if (!/^\d+$/.test(f.port) || Number(f.port) < 1 || Number(f.port) > 65535) e.port = 'a port from 1 to 65535';
  if (!/^[a-z_][a-z0-9_-]{0,31}$/.test(f.user)) e.user = 'a Unix user name';
  if (f.keyFile && !f.keyFile.startsWith('/')) e.keyFile = 'an absolute path, or empty to use the SSH agent';
  return e;
}

export const useClusters = create<ClustersStore>()((set, get) => ({
  clusters: undefined,
  loading: false,
  form: { name: '', address: '', port: '22', user: 'root', keyFile: '' },
  flow: { step: 'form' },
  lab: undefined,
  labForm: { nodes: '4', cores: '4', memMb: '8192' },

  async load() {
    set({ loading: true });
    try {
      const r = await api().call('clusters.list', {});
      set({ clusters: r.clusters, current: r.current, loading: false, error: undefined });
    } catch (e) {
      set({ loading: false, error: shown(e) });
    }
  },
  async use(name) {
    try { await api().call('clusters.use', { name }); await get().load(); } catch (e) { set({ error: shown(e) }); }
  },
  async remove(name) {
    try { await api().call('clusters.remove', { name }); await get().load(); } catch (e) { set({ error: shown(e) }); }
  },
  setForm: (f) => set((s) => ({ form: { ...s.form, ...f }, flowError: undefined, flow: s.flow.step === 'done' ? { step: 'form' } : s.flow })),

  async probe() {
    const f = get().form;
    set({ flow: { step: 'probing' }, flowError: undefined });
    try {
      const probe = await api().call('hostKey.probe', { address: f.address, port: Number(f.port) });
      set({ flow: { step: 'confirm', probe } });
    } catch (e) {
      set({ flow: { step: 'form' }, flowError: shown(e) });
    }
  },
  async trustAndAdd() {
    const flow = get().flow;
    const f = get().form;
    if (flow.step !== 'confirm' || flow.probe.status === 'changed') return;
    set({ flow: { step: 'adding' } });
    try {
      if (flow.probe.status === 'new') {
        await api().call('hostKey.accept', { address: f.address, port: Number(f.port), fingerprint: flow.probe.fingerprint });
      }
      const cluster = await api().call('clusters.add', {
        name: f.name, address: f.address, port: Number(f.port), user: f.user, ...(f.keyFile ? { keyFile: f.keyFile } : {}), use: true,
      });
      set({ flow: { step: 'done', cluster } });
      await get().load();
    } catch (e) {
      set({ flow: { step: 'confirm', probe: flow.probe }, flowError: shown(e) });
    }
  },
  resetFlow: () => set({ flow: { step: 'form' }, flowError: undefined }),

  setLabForm: (f) => set((s) => ({ labForm: { ...s.labForm, ...f } })),
  async loadLab() {
    try {
      const lab = await api().call('lab.status', {});
      // A running lab is repaired with the size it was built with: `lab up` refuses another node count.
      const form = lab.up && !get().labTask
        ? { labForm: { nodes: String(lab.nodes.length), cores: String(lab.cores ?? get().labForm.cores), memMb: String(lab.memMb ?? get().labForm.memMb) } }
        : {};
      set({ lab, labError: undefined, ...form });
    } catch (e) { set({ labError: shown(e) }); }
  },
  async labUp() {
    const f = get().labForm;
    set({ labError: undefined });
    try {
      const { taskId } = await api().call('lab.up', { nodes: Number(f.nodes), cores: Number(f.cores), memMb: Number(f.memMb) });
      set({ labTask: taskId });
    } catch (e) {
      set({ labError: shown(e) });
    }
  },
  async labDown() {
    set({ labError: undefined });
    try {
      const { taskId } = await api().call('lab.down', {});
      set({ labTask: taskId });
    } catch (e) {
      set({ labError: shown(e) });
    }
  },
  async crash(node) {
    try { await api().call('lab.crash', { node }); await get().loadLab(); } catch (e) { set({ labError: shown(e) }); }
  },
  async loadMachines() {
    try { set({ machines: await api().call('lab.machines', {}), machinesError: undefined }); } catch (e) { set({ machinesError: shown(e) }); }
  },
  async powerOn(name) {
    set({ machineBusy: name, machinesError: undefined });
    try { await api().call('lab.powerOn', { name }); } catch (e) { set({ machinesError: shown(e) }); }
    set({ machineBusy: undefined });
    await get().loadMachines();
  },
  async powerOff(name) {
    set({ machineBusy: name, machinesError: undefined });
    try { await api().call('lab.powerOff', { name }); } catch (e) { set({ machinesError: shown(e) }); }
    set({ machineBusy: undefined });
    await get().loadMachines();
  },
  async revive(node) {
    try { await api().call('lab.revive', { node }); await get().loadLab(); } catch (e) { set({ labError: shown(e) }); }
  },
}));
