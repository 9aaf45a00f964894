import type { EvacuationStep } from '../../../main/api/contract.js';
import { api } from '../api.js';
import { useApp } from '../stores/app.js';
import { useTasks } from '../stores/tasks.js';
import { useTopology } from '../stores/topology.js';
import { fresh, type Action, type Choice } from './types.js';

/**
 * Node health, evacuation and maintenance. Evacuation asks for the node and the mode, then
 * shows the plan itself as the last question: every VM with its target and action (refused
 * ones with the reason, not choosable), then "Evacuate" or "Cancel".
 */
const topology = () => fresh(() => useTopology.getState().load(), () => useTopology.getState().nodes ?? [], () => useTopology.getState().error);
const nodeStep = (prompt: string, ok: (health: string) => string | undefined) => ({
  prompt, none: 'No nodes are known',
  choices: async (): Promise<Choice[]> => (await topology()).map((n) => {
    const h = n.health ?? n.state;
    const why = ok(h);
    return { id: n.name, label: n.name, detail: `${h} · ${n.address}`, ...(why ? { disabled: why } : {}) };
  }),
});

const ACTION_WORD: Record<EvacuationStep['action'], string> = {
  live: 'live migration', cold: 'stop here, start there', stop: 'stop', remap: 'saved: remapped', none: 'nothing to do', refuse: 'refused',
};

async function followTask(taskId: string): Promise<void> {
  useApp.getState().go('tasks');
  await useTasks.getState().load();
  void useTasks.getState().select(taskId);
}

export const healthActions: Action[] = [
  {
    id: 'node.evacuate', category: 'Node', title: 'Evacuate…', keywords: 'vlx node evacuate drain empty maintenance live migrate',
    steps: [
      nodeStep('Which node should be emptied?', (h) => (h === 'up' ? undefined : `it is ${h}`)),
      {
        prompt: 'How should its running VMs move?', none: '',
        choices: () => [
          { id: 'live', label: 'Live migration', detail: 'they keep running' },
          { id: 'cold', label: 'Stop here, start there', detail: 'a reboot' },
          { id: 'stop', label: 'Stop them', detail: 'they stay stopped' },
        ],
      },
      {
        prompt: 'The plan: evacuate as shown?', none: '',
        choices: async ([node, mode]): Promise<Choice[]> => {
          const plan = await api().call('node.evacuatePlan', { node: node!, mode: mode as 'live' | 'cold' | 'stop' });
          const rows = plan.steps.map((s): Choice => ({
            id: `vm:${s.vc}/${s.vm}`, label: `${s.vc}/${s.vm}${s.to ? ` → ${s.to}` : ''}`, detail: ACTION_WORD[s.action], disabled: s.reason,
          }));
          return [
            { id: 'yes', label: `Evacuate ${node}`, detail: plan.steps.length === 0 ? 'no VM runs there: it only goes into maintenance' : plan.complete ? `${plan.steps.length} VMs` : 'the refused VMs stay' },
            ...rows,
            { id: 'no', label: 'Cancel' },
          ];
        },
      },
    ],
    run: async ([node, mode, yes]) => {
      if (yes !== 'yes') return;
      const { taskId } = await api().call('node.evacuate', { node: node!, mode: mode as 'live' | 'cold' | 'stop' });
      await followTask(taskId);
    },
  },
  {
    id: 'node.restore', category: 'Node', title: 'Restore (bring its VMs back)…', keywords: 'vlx node restore back end maintenance',
    steps: [nodeStep('Which node should get its VMs back?', (h) => (h === 'maintenance' ? undefined : `it is ${h}, not in maintenance`))],
    run: async ([node]) => { const { taskId } = await api().call('node.restore', { node: node! }); await followTask(taskId); },
  },
  {
    id: 'node.maintenance', category: 'Node', title: 'Maintenance on/off…', keywords: 'vlx node maintenance cordon uncordon',
    steps: [
      nodeStep('Which node?', () => undefined),
      { prompt: 'Maintenance (placement skips the node; its VMs stay)?', none: '', choices: () => [{ id: 'on', label: 'On' }, { id: 'off', label: 'Off' }] },
    ],
    run: async ([node, onOff]) => { await api().call('node.setMaintenance', { node: node!, on: onOff === 'on' }); await useTopology.getState().load(); },
  },
  {
    id: 'nodes.health', category: 'Nodes', title: 'Show health', keywords: 'vlx nodes watch health lease unreachable down',
    run: () => { useApp.getState().go('topology'); void api().call('nodes.health', {}).then(() => useTopology.getState().load()); },
  },
];
