import { useApp } from '../stores/app.js';
import { useExec } from '../stores/exec.js';
import { useImages, IMAGE_KINDS } from '../stores/images.js';
import { useTopology } from '../stores/topology.js';
import { useNodes } from '../stores/nodes.js';
import { nodesOfSelection } from '../stores/exec.logic.js';
import { focusSoon } from './cluster.js';
import { confirmed, confirmStep, fresh, type Action, type Choice } from './types.js';

const topology = () => fresh(() => useTopology.getState().load(), () => useTopology.getState().nodes ?? [], () => useTopology.getState().error);
const goNodes = () => useApp.getState().go('nodes');
const upNodes = async (): Promise<Choice[]> => (await topology()).map((n) => ({ id: n.name, label: n.name, detail: n.address, ...(n.state !== 'up' ? { disabled: `it is ${n.state}` } : {}) }));
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
    run: ([name]) => { useApp.getState().go('images'); void useImages.getState().select(name!); },
  },
  {
    id: 'images.import', category: 'Images', title: 'Import a disk image…', keywords: 'vlx image import qcow2 cloud file',
    run: () => { useApp.getState().go('images'); focusSoon('#import-file'); },
  },
  {
    id: 'nodes.show', category: 'Nodes', title: 'Show node details…', keywords: 'vlx nodes kernel kvm capacity tools detected declared',
    steps: [{
      prompt: 'Which node?', none: 'No nodes are known',
      choices: async () => (await topology()).map((n): Choice => ({ id: n.name, label: n.name, detail: `${n.state} · ${n.address}${n.kernel ? ` · ${n.kernel}` : ''}` })),
    }],
    run: ([node]) => { goNodes(); useNodes.getState().select(node!); },
  },
  {
    id: 'db.status', category: 'Database', title: 'Show status', keywords: 'vlx db status postgres tls migrations',
    run: () => { goNodes(); void useNodes.getState().loadDb(); focusSoon('#db-h'); },
  },
  {
    id: 'db.migrate', category: 'Database', title: 'Apply pending migrations', keywords: 'vlx db migrate schema upgrade',
    run: async () => { goNodes(); await useNodes.getState().migrate(); },
  },
  {
    id: 'db.deploy', category: 'Database', title: 'Deploy on a node…', keywords: 'vlx db deploy postgres install',
    steps: [
      { prompt: 'On which node should PostgreSQL run?', none: 'No nodes are known', choices: upNodes },
      {
        prompt: 'On which port?', none: '',
        choices: () => {
          const current = useNodes.getState().db?.endpoint.port;
          return [{ id: '5432', label: '5432', detail: 'the PostgreSQL default' }, ...(current && current !== 5432 ? [{ id: String(current), label: String(current), detail: 'the port it uses now' }] : [])];
        },
      },
    ],
    run: async ([node, port]) => { goNodes(); await useNodes.getState().deployDb(node!, Number(port)); },
  },
  {
    id: 'db.switchover', category: 'Database', title: 'Move the primary to…', keywords: 'vlx db switchover patroni primary standby failover',
    steps: [{
      prompt: 'Which member becomes primary?', none: 'The database has no other member',
      choices: async () => {
        await useNodes.getState().loadDb();
        return (useNodes.getState().db?.members ?? []).filter((m) => m.role !== 'primary').map((m) => ({
          id: m.node, label: m.node, detail: `${m.role} (${m.state})`,
          // in synchronous mode Patroni hands over only to the synchronous standby
          ...(m.role !== 'sync_standby' ? { disabled: 'only the synchronous standby can take over' } : {}),
        }));
      },
    }],
    run: async ([to]) => { goNodes(); await useNodes.getState().switchover(to!); },
  },
  {
    id: 'services.status', category: 'Node services', title: 'Show status', keywords: 'vlx services status dhcp dns ntp gateway vip keepalived',
    run: () => { goNodes(); void useNodes.getState().loadServices(); focusSoon('#svc-h'); },
  },
  {
    id: 'services.deploy', category: 'Node services', title: 'Deploy on every node', keywords: 'vlx services deploy install dhcp dns ntp gateway',
    run: async () => { goNodes(); await useNodes.getState().deployServices(); },
  },
  {
    id: 'services.stop', category: 'Node services', title: 'Stop on every node…', keywords: 'vlx services stop halt',
    steps: [confirmStep('Stop DHCP, DNS, time, the gateway address and VC shared storage on every node?', 'Stop the node services')],
    run: async (p) => { if (!confirmed(p)) return; goNodes(); await useNodes.getState().stopServices(); },
  },
];
