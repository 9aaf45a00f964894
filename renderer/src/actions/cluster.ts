import { useApp } from '../stores/app.js';
import { useClusters } from '../stores/clusters.js';
import { confirmed, confirmStep, fresh, type Action } from './types.js';

/** Focus a field once the screen that holds it has been drawn. */
export function focusSoon(selector: string): void {
  const tryFocus = (n: number) => {
    const el = document.querySelector<HTMLElement>(selector);
    if (el) { el.focus(); return; }
    if (n > 0) requestAnimationFrame(() => tryFocus(n - 1));
  };
  requestAnimationFrame(() => tryFocus(10));
}

// States change while the palette is closed (a crash elsewhere): every list is asked for afresh.
const c = () => useClusters.getState();
const lab = () => fresh(() => c().loadLab(), () => c().lab, () => c().labError);
const clusters = () => fresh(() => c().load(), () => c().clusters, () => c().error);

export const clusterActions: Action[] = [
  {
    id: 'cluster.add', category: 'Cluster', title: 'Connect to a cluster…', keywords: 'vlx cluster add new host key ssh',
    run: () => { useApp.getState().go('connect'); focusSoon('#c-name'); },
  },
  {
    id: 'cluster.use', category: 'Cluster', title: 'Use another cluster…', keywords: 'vlx cluster use switch select',
    steps: [{
      prompt: 'Which cluster?', none: 'No clusters are known on this workstation',
      choices: async () => (await clusters() ?? []).map((c) => ({
        id: c.name, label: c.name, detail: c.nodes.map((n) => n.address).join(', '),
        ...(c.current ? { disabled: 'already in use' } : {}),
      })),
    }],
    run: async ([name]) => { useApp.getState().go('connect'); await useClusters.getState().use(name!); void useApp.getState().loadInfo(); },
  },
  {
    id: 'cluster.forget', category: 'Cluster', title: 'Forget a cluster…', keywords: 'vlx cluster remove delete',
    steps: [
      {
        prompt: 'Which cluster should this workstation forget?', none: 'No clusters are known on this workstation',
        choices: async () => (await clusters() ?? []).map((c) => ({ id: c.name, label: c.name, detail: c.nodes.map((n) => n.address).join(', ') })),
      },
      confirmStep('Forget it? Nothing on the cluster changes.', 'Forget this cluster'),
    ],
    run: async (p) => { if (!confirmed(p)) return; useApp.getState().go('connect'); await useClusters.getState().remove(p[0]!); },
  },
  {
    id: 'lab.up', category: 'Lab', title: 'Start the local lab (or check and repair it)', keywords: 'vlx lab up create namespaces',
    run: () => { useApp.getState().go('connect'); void useClusters.getState().labUp(); },
  },
  {
    id: 'lab.down', category: 'Lab', title: 'Tear down the local lab…', keywords: 'vlx lab down remove destroy',
    steps: [confirmStep('Tear down the local lab? Every node, VM and volume of it is removed.', 'Tear down the lab')],
    run: (p) => { if (!confirmed(p)) return; useApp.getState().go('connect'); void useClusters.getState().labDown(); },
  },
  {
    id: 'lab.crash', category: 'Lab', title: 'Crash a lab node…', keywords: 'vlx lab crash kill fail test',
    steps: [{
      prompt: 'Which node should crash (everything of it killed, its link cut)?', none: 'No lab is running',
      choices: async () => ((await lab())?.nodes ?? []).map((n) => ({ id: n.name, label: n.name, detail: n.address, ...(n.state !== 'up' ? { disabled: `already ${n.state}` } : {}) })),
    }],
    run: ([node]) => { useApp.getState().go('connect'); void useClusters.getState().crash(node!); },
  },
  {
    id: 'lab.revive', category: 'Lab', title: 'Revive a lab node…', keywords: 'vlx lab revive restore bring back',
    steps: [{
      prompt: 'Which node should come back?', none: 'No lab is running',
      choices: async () => ((await lab())?.nodes ?? []).map((n) => ({ id: n.name, label: n.name, detail: n.address, ...(n.state === 'up' ? { disabled: 'already up' } : {}) })),
    }],
    run: ([node]) => { useApp.getState().go('connect'); void useClusters.getState().revive(node!); },
  },
];
