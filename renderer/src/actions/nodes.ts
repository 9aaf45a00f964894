import { useApp } from '../stores/app.js';
import { useExec } from '../stores/exec.js';
import { useImages, IMAGE_KINDS } from '../stores/images.js';
import { useTopology } from '../stores/topology.js';
import { nodesOfSelection } from '../stores/exec.logic.js';
import { focusSoon } from './cluster.js';
import { fresh, type Action, type Choice } from './types.js';

const images = () => fresh(() => useImages.getState().load(), () => useImages.getState().list ?? [], () => useImages.getState().error);

/** Exec on some nodes: opens the Exec screen with them ticked and the command field focused. */
export function execOn(nodes: string[]): void {
  useExec.getState().setChecked(nodes);
  useApp.getState().go('exec');
  focusSoon('#exec-command');
}

export const nodeActions: Action[] = [
  {
    id: 'exec.run', category: 'Nodes', title: 'Run a command on nodes…', shortcut: ['Alt+E'], keywords: 'vlx exec shell command run parallel ssh',
    run: () => { useApp.getState().go('exec'); focusSoon('#exec-command'); },
  },
  {
    id: 'exec.selection', category: 'Nodes', title: 'Run a command where the selected VMs run…', keywords: 'vlx exec topology selection hosts',
    steps: [{
      prompt: 'On these nodes (the hosts of the VMs selected in the topology)?', none: 'No VM is selected in the topology',
      choices: () => {
        const t = useTopology.getState();
        const hosts = nodesOfSelection(t.selection, (k) => t.layout.chips.get(k)?.node, (t.nodes ?? []).map((n) => n.name));
        return hosts.length ? [{ id: hosts.join(','), label: hosts.join(', '), detail: `${t.selection.length} VM${t.selection.length === 1 ? '' : 's'} selected` }] : [];
      },
    }],
    run: ([hosts]) => execOn(hosts!.split(',')),
  },
  ...IMAGE_KINDS.map((k): Action => ({
    id: `images.build.${k.kind}`, category: 'Images', title: `Build ${k.label}`, keywords: `vlx image build ${k.kind} os template new`,
    run: async () => { useApp.getState().go('images'); await useImages.getState().build(k.kind); },
  })),
  {
    id: 'images.info', category: 'Images', title: 'Show image details…', keywords: 'vlx image info used by size',
    steps: [{
      prompt: 'Which image?', none: 'There are no images on shared storage yet',
      choices: async () => (await images()).map((i): Choice => ({ id: i.name, label: i.name, detail: `${i.format}${i.kernel ? ' · own kernel' : ''}` })),
    }],
    run: ([name]) => { useApp.getState().go('images'); useImages.getState().select(name!); },
  },
];
