import type { VcInfo } from '../../../main/api/contract.js';
import { useApp } from '../stores/app.js';
import { useVcs, type VcAction } from '../stores/vcs.js';
import { useTopology } from '../stores/topology.js';
import { useConsoles } from '../stores/consoles.js';
import { resumable, useTasks } from '../stores/tasks.js';
import { taskTitle } from '../stores/tasks.logic.js';
import { fresh, type Action, type ActionStep, type Choice } from './types.js';
import { api } from '../api.js';

// VC and node states change while the palette is closed: every list is asked for afresh.
const vcList = async (): Promise<VcInfo[]> => (await fresh(() => useVcs.getState().load(), () => useVcs.getState().list, () => useVcs.getState().error)) ?? [];
const topology = () => fresh(() => useTopology.getState().load(), () => useTopology.getState(), () => useTopology.getState().error);

/** Which VC states each lifecycle action accepts: what the VC screen's buttons allow. */
const ACCEPTS: Record<VcAction, (s: VcInfo['state']) => string | undefined> = {
  start: (s) => (s === 'running' ? 'already running' : undefined),
  restore: (s) => (s === 'saved' ? undefined : 'not saved'),
  save: (s) => (s === 'running' || s === 'partial' ? undefined : `it is ${s}`),
  stop: (s) => (s === 'running' || s === 'partial' ? undefined : `it is ${s}`),
  destroy: () => undefined,
};

const vcStep = (action: VcAction, prompt: string): ActionStep => ({
  prompt, none: 'There are no virtual clusters yet',
  choices: async () => (await vcList()).map((vc): Choice => {
    const why = ACCEPTS[action](vc.state);
    return { id: vc.name, label: vc.name, detail: `${vc.state} · ${vc.vms.length} VMs · ${vc.subnet}`, ...(why ? { disabled: why } : {}) };
  }),
});

function lifecycle(action: VcAction, title: string, prompt: string, keywords: string): Action {
  return {
    id: `vc.${action}`, category: 'Virtual cluster', title, keywords: `vlx vc ${action} ${keywords}`,
    steps: [vcStep(action, prompt)],
    async run([name]) {
      const vcs = useVcs.getState();
      useApp.getState().go('vcs');
      void vcs.select(name!);
      // Start and restore place the VMs again: with the policy the VC last used, as the VC screen does.
      const vc = vcs.list?.find((v) => v.name === name);
      await vcs.act(action, name!, { policy: vc?.policy ?? 'cyclic', mode: vc?.mode ?? 'strict' });
      void vcs.select(name!);
    },
  };
}

const runningVms = async (): Promise<Choice[]> => (await vcList()).flatMap((vc) => vc.vms.map((vm): Choice => ({
  id: `${vc.name}/${vm.name}`, label: `${vc.name}/${vm.name}`, detail: `${vm.state}${vm.node ? ` on ${vm.node}` : ''} · ${vm.address}`,
  ...(vm.state !== 'running' ? { disabled: `it is ${vm.state}` } : {}),
})));

const split = (key: string) => [key.slice(0, key.indexOf('/')), key.slice(key.indexOf('/') + 1)] as const;

export const vcActions: Action[] = [
  {
    id: 'vc.create', category: 'Virtual cluster', title: 'Create…', keywords: 'vlx vc create new wizard add',
    run: () => { useApp.getState().go('vcs'); useVcs.getState().openWizard(); },
  },
  {
    id: 'vc.show', category: 'Virtual cluster', title: 'Show details…', keywords: 'vlx vc status info vms drift',
    steps: [vcStep('destroy', 'Which virtual cluster?')],
    run: ([name]) => { useApp.getState().go('vcs'); void useVcs.getState().select(name!); },
  },
  lifecycle('start', 'Start…', 'Start which virtual cluster?', 'boot run place'),
  lifecycle('stop', 'Stop…', 'Stop which virtual cluster?', 'shutdown halt'),
  lifecycle('save', 'Save to disk…', 'Save which virtual cluster (RAM state to disk, then stop)?', 'suspend hibernate state'),
  lifecycle('restore', 'Restore…', 'Restore which saved virtual cluster?', 'resume'),
  {
    id: 'vc.destroy', category: 'Virtual cluster', title: 'Destroy…', keywords: 'vlx vc destroy delete remove',
    steps: [vcStep('destroy', 'Destroy which virtual cluster? (you confirm by typing its name next)')],
    run: ([name]) => { useApp.getState().go('vcs'); void useVcs.getState().select(name!); useVcs.getState().askDestroy(name!); },
  },
  {
    id: 'vc.ha', category: 'Virtual cluster', title: 'HA restart on or off…', keywords: 'vlx vc ha high availability restart fencing priority order',
    steps: [
      {
        prompt: 'For a whole virtual cluster (its default) or one VM?', none: 'There are no virtual clusters yet',
        choices: async () => (await vcList()).flatMap((vc): Choice[] => [
          { id: vc.name, label: vc.name, detail: `the VC's default · HA ${vc.ha?.on ? 'on' : 'off'}` },
          ...vc.vms.map((vm): Choice => ({ id: `${vc.name}/${vm.name}`, label: `${vc.name}/${vm.name}`, detail: `HA ${vm.ha?.on ? 'on' : 'off'}${vm.ha?.own ? '' : ' (VC default)'}` })),
        ]),
      },
      { prompt: 'HA restart', none: '', choices: () => [{ id: 'on', label: 'On: restart elsewhere when its node is confirmed down' }, { id: 'off', label: 'Off: left stopped and reported' }] },
    ],
    async run([key, onOff]) {
      const [vc, vm] = key!.includes('/') ? split(key!) : [key!, undefined];
      useApp.getState().go('vcs');
      await api().call('vc.setHa', { name: vc, on: onOff === 'on', ...(vm ? { vm } : {}) });
      void useVcs.getState().select(vc);
    },
  },
  {
    id: 'vm.move', category: 'VM', title: 'Move to another node…', keywords: 'vlx vm move migrate relocate remap',
    steps: [
      {
        prompt: 'Move which VM?', none: 'There are no VMs',
        choices: async () => (await vcList()).flatMap((vc) => vc.vms.map((vm): Choice => ({
          id: `${vc.name}/${vm.name}`, label: `${vc.name}/${vm.name}`, detail: `${vm.state}${vm.node ? ` on ${vm.node}` : ''}`,
        }))),
      },
      {
        prompt: 'To which node?', none: 'No nodes are known',
        choices: async ([key]) => {
          const t = await topology();
          const at = t.layout.chips.get(key!)?.node;
          return (t.nodes ?? []).map((n): Choice => ({
            id: n.name, label: n.name, detail: n.address,
            ...(n.state !== 'up' ? { disabled: `it is ${n.state}` } : n.name === at ? { disabled: 'the VM is already there' } : {}),
          }));
        },
      },
    ],
    // The plan (live migration or relocation, or why not) is shown for confirmation, as after a drag.
    run: ([key, to]) => { useApp.getState().go('topology'); useTopology.getState().proposeMove(to!, [key!]); },
  },
  {
    id: 'console.node', category: 'Console', title: 'Open a node shell…', keywords: 'vlx shell ssh terminal node',
    steps: [{
      prompt: 'A shell on which node?', none: 'No nodes are known',
      choices: async () => ((await topology()).nodes ?? []).map((n): Choice => ({ id: n.name, label: n.name, detail: n.address, ...(n.state !== 'up' ? { disabled: `it is ${n.state}` } : {}) })),
    }],
    run: ([node]) => { useApp.getState().go('consoles'); void useConsoles.getState().open({ kind: 'node', node: node! }); },
  },
  {
    id: 'console.vm', category: 'Console', title: 'Open a VM console…', keywords: 'vlx console serial terminal vm',
    steps: [{ prompt: 'The serial console of which VM?', none: 'There are no VMs', choices: runningVms }],
    run: ([key]) => { const [vc, vm] = split(key!); useApp.getState().go('consoles'); void useConsoles.getState().open({ kind: 'vm', vc, vm }); },
  },
  {
    id: 'task.cancel', category: 'Task', title: 'Cancel a running task…', keywords: 'vlx task cancel stop abort',
    steps: [{
      prompt: 'Cancel which task? (it stops between steps; running it again resumes)', none: 'No task is running',
      choices: async () => {
        const s = await fresh(() => useTasks.getState().load(), () => useTasks.getState(), () => useTasks.getState().error);
        return s.order.map((id) => s.byId[id]!).filter((t) => t.state === 'running' && !t.interrupted)
          .map((t) => ({ id: t.id, label: taskTitle(t), detail: t.currentStep ?? 'starting' }));
      },
    }],
    run: ([id]) => { useApp.getState().go('tasks'); void useTasks.getState().select(id!); void useTasks.getState().cancel(id!); },
  },
  {
    id: 'task.resume', category: 'Task', title: 'Resume an interrupted task…', keywords: 'vlx tasks resume continue retry interrupted failed',
    steps: [{
      prompt: 'Resume which task? (it continues from its first unfinished step)', none: 'No task is interrupted or failed',
      choices: async () => {
        const s = await fresh(() => useTasks.getState().load(), () => useTasks.getState(), () => useTasks.getState().error);
        return s.order.map((id) => s.byId[id]!).filter(resumable)
          .map((t) => ({ id: t.id, label: taskTitle(t), detail: t.interrupted ? `interrupted at ${t.currentStep ?? '?'}` : t.state }));
      },
    }],
    run: ([id]) => { useApp.getState().go('tasks'); void useTasks.getState().select(id!); void useTasks.getState().resume(id!); },
  },
];
