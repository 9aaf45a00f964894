import { useApp } from '../stores/app.js';
import { useClusters } from '../stores/clusters.js';
import { confirmed, confirmStep, fresh, type Action } from './types.js';

/**
 * Focus a field once the screen that holds it has drawn it: a screen may first show
 * "Loading…" while it asks the cluster. Gives up after a few seconds, or as soon as the
 * person presses a key or clicks (they have moved on).
 */
export function focusSoon(selector: string, withinMs = 5000): void {
  const until = Date.now() + withinMs;
  let moved = false;
  const onInput = () => { moved = true; };
  const stop = () => { window.removeEventListener('keydown', onInput, true); window.removeEventListener('pointerdown', onInput, true); };
  // Capture phase: the key or click that ran this action has already passed it.
  window.addEventListener('keydown', onInput, true);
  window.addEventListener('pointerdown', onInput, true);
  const tryFocus = () => {
    if (moved) { stop(); return; }
    const el = document.querySelector<HTMLElement>(selector);
    if (el && !(el as HTMLInputElement).disabled) { el.scrollIntoView?.({ block: 'nearest' }); el.focus(); stop(); return; }
    if (Date.now() < until) setTimeout(tryFocus, 50); else stop();
  };
  requestAnimationFrame(tryFocus);
}

const c = () => useClusters.getState();
const lab = () => fresh(() => c().loadLab(), () => c().lab, () => c().labError);
const machines = () => fresh(() => c().loadMachines(), () => c().machines ?? [], () => c().machinesError);
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
  {
    id: 'lab.machines', category: 'Lab', title: 'Show disk-less machines', keywords: 'vlx lab machines netboot pxe qemu',
    run: () => { useApp.getState().go('connect'); void c().loadMachines(); focusSoon('#machine-name'); },
  },
  {
    id: 'lab.powerOn', category: 'Lab', title: 'Power on a disk-less machine…', keywords: 'vlx lab power-on machine netboot start',
    steps: [{
      prompt: 'Which machine? (a new one: type its name on the Connect screen)', none: 'No machine yet: name a new one on the Connect screen',
      choices: async () => (await machines()).map((m) => ({ id: m.name, label: m.name, detail: m.mac, ...(m.running ? { disabled: 'already running' } : {}) })),
    }],
    run: ([name]) => { useApp.getState().go('connect'); void c().powerOn(name!); },
  },
  {
    id: 'lab.powerOff', category: 'Lab', title: 'Power off a disk-less machine…', keywords: 'vlx lab power-off machine stop',
    steps: [{
      prompt: 'Which machine?', none: 'No machine is running',
      choices: async () => (await machines()).map((m) => ({ id: m.name, label: m.name, detail: m.mac, ...(!m.running ? { disabled: 'it is off' } : {}) })),
    }],
    run: ([name]) => { useApp.getState().go('connect'); void c().powerOff(name!); },
  },
];
