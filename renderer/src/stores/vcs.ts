import { create } from 'zustand';
import type { ImageInfo, Mode, Placement, Policy, VcDetail, VcInfo } from '../../../main/api/contract.js';
import { api, shown, type ShownError } from '../api.js';
import { validateWizard, WIZARD_DEFAULTS, type WizardField, type WizardFields, type WizardResult } from './wizard.logic.js';
import { useTopology } from './topology.js';
import { useApp } from './app.js';

export type VcAction = 'start' | 'stop' | 'save' | 'restore' | 'destroy';

interface WizardState {
  open: boolean;
  fields: WizardFields;
  touched: Partial<Record<WizardField, boolean>>;
  result: WizardResult;
  policy: Policy;
  mode: Mode;
  preview: { state: 'idle' | 'loading' | 'done' | 'error'; placement?: Placement; error?: ShownError };
  submitting: boolean;
  submitError?: ShownError;
}

interface VcsStore {
  list: VcInfo[] | undefined;
  images: ImageInfo[] | undefined;
  loading: boolean;
  error?: ShownError;
  selected?: string;
  detail?: VcDetail;
  detailError?: ShownError;
  /** last action's outcome for the selected VC */
  actionError?: ShownError;
  busy?: VcAction;
  /** the VC whose destroy confirmation (type its name) is open */
  destroying?: string;
  wizard: WizardState;

  load(): Promise<void>;
  select(name: string | undefined): Promise<void>;
  act(action: VcAction, name: string, choice?: { policy: Policy; mode: Mode }): Promise<string | undefined>;
  askDestroy(name: string | undefined): void;

  openWizard(): void;
  closeWizard(): void;
  setField(f: WizardField, v: string): void;
  setPlacementChoice(policy: Policy, mode: Mode): void;
  refreshPreview(): Promise<void>;
  submit(): Promise<string | undefined>;
}

const freshWizard = (): WizardState => ({
  open: false, fields: { ...WIZARD_DEFAULTS }, touched: {}, result: { errors: {} }, policy: 'cyclic', mode: 'strict',
  preview: { state: 'idle' }, submitting: false,
});

let previewTimer: ReturnType<typeof setTimeout> | undefined;

export const useVcs = create<VcsStore>()((set, get) => ({
  list: undefined,
  images: undefined,
  loading: false,
  wizard: freshWizard(),

  async load() {
    set({ loading: true });
    try {
      const [list, images] = await Promise.all([
        api().call('vc.list', {}),
        api().call('images.list', {}).catch(() => undefined),
      ]);
      set({ list, images, loading: false, error: undefined });
      const sel = get().selected;
      if (sel) void get().select(sel);
    } catch (e) {
      set({ loading: false, error: shown(e) });
    }
  },

  async select(name) {
    set({ selected: name, detailError: undefined, actionError: undefined, ...(name !== get().selected ? { detail: undefined } : {}) });
    if (!name) return;
    try {
      const detail = await api().call('vc.get', { name });
      if (get().selected === name) set({ detail });
    } catch (e) {
      set({ detailError: shown(e) });
    }
  },

  async act(action, name, choice) {
    set({ busy: action, actionError: undefined });
    try {
      const c = choice ?? { policy: 'cyclic' as Policy, mode: 'strict' as Mode };
      const { taskId } = action === 'start' || action === 'restore'
        ? await api().call(`vc.${action}`, { name, policy: c.policy, mode: c.mode })
        : await api().call(`vc.${action}`, { name });
      set({ busy: undefined });
      return taskId;
    } catch (e) {
      set({ busy: undefined, actionError: shown(e) });
      return undefined;
    }
  },

  askDestroy: (name) => set({ destroying: name }),

  openWizard() {
    const w = freshWizard();
    const imgs = get().images;
    if (imgs && imgs.length > 0 && !imgs.some((i) => i.name === w.fields.image)) w.fields.image = imgs[0]!.name;
    set({ wizard: { ...w, open: true, result: validateWizard(w.fields, wizardContext()) } });
  },
  closeWizard: () => set({ wizard: freshWizard() }),

  setField(f, v) {
    const w = get().wizard;
    const fields = { ...w.fields, [f]: v };
    set({ wizard: { ...w, fields, touched: { ...w.touched, [f]: true }, result: validateWizard(fields, wizardContext()), submitError: undefined } });
    schedulePreview();
  },
  setPlacementChoice(policy, mode) {
    set({ wizard: { ...get().wizard, policy, mode } });
    schedulePreview();
  },

  async refreshPreview() {
    const w = get().wizard;
    const spec = w.result.spec;
    if (!spec) { set({ wizard: { ...w, preview: { state: 'idle' } } }); return; }
    set({ wizard: { ...w, preview: { ...w.preview, state: 'loading' } } });
    try {
      const placement = await api().call('vc.previewPlacement', { name: spec.name, nodes: spec.nodes, vcpus: spec.vcpus, memMb: spec.memMb, policy: w.policy, mode: w.mode });
      set({ wizard: { ...get().wizard, preview: { state: 'done', placement } } });
    } catch (e) {
      set({ wizard: { ...get().wizard, preview: { state: 'error', error: shown(e) } } });
    }
  },

  async submit() {
    const w = get().wizard;
    const result = validateWizard(w.fields, wizardContext());
    const touched = Object.fromEntries(Object.keys(w.fields).map((k) => [k, true]));
    if (!result.spec) { set({ wizard: { ...w, result, touched } }); return undefined; }
    set({ wizard: { ...w, result, touched, submitting: true, submitError: undefined } });
    try {
      const { taskId } = await api().call('vc.create', result.spec);
      set({ wizard: freshWizard(), selected: result.spec.name });
      return taskId;
    } catch (e) {
      set({ wizard: { ...get().wizard, submitting: false, submitError: shown(e) } });
      return undefined;
    }
  },
}));

function wizardContext() {
  const s = useVcs.getState();
  return {
    images: (s.images ?? []).map((i) => i.name),
    vcs: (s.list ?? []).map((v) => ({ name: v.name, subnet: v.subnet })),
    nodes: useTopology.getState().nodes ?? [],
    ...(useApp.getState().info?.clusterNetwork ? { clusterNetwork: useApp.getState().info!.clusterNetwork! } : {}),
  };
}

function schedulePreview() {
  if (previewTimer) clearTimeout(previewTimer);
  // Ask for a preview once typing pauses, not on every key.
  previewTimer = setTimeout(() => void useVcs.getState().refreshPreview(), 250);
}
