import { create } from 'zustand';
import type { Output } from '../../../main/api/contract.js';
import { api, shown, type ShownError } from '../api.js';

export type Screen = 'connect' | 'topology' | 'nodes' | 'vcs' | 'images' | 'volumes' | 'install' | 'exec' | 'consoles' | 'tasks' | 'experiments';
export const SCREENS: { id: Screen; label: string; hint: string }[] = [
  { id: 'connect', label: 'Connect', hint: 'Clusters and the local lab' },
  { id: 'topology', label: 'Topology', hint: 'Nodes and where VMs run' },
  { id: 'nodes', label: 'Nodes', hint: 'Node details, the cluster database, node services' },
  { id: 'vcs', label: 'Virtual clusters', hint: 'Create, start, save, destroy' },
  { id: 'images', label: 'Images', hint: 'OS images: build, import, details' },
  { id: 'volumes', label: 'Volumes', hint: 'Templates and their overlays' },
  { id: 'install', label: 'Install', hint: 'Install a disk-less cluster; restore its nodes' },
  { id: 'exec', label: 'Run command', hint: 'A shell command on chosen nodes, output per node' },
  { id: 'consoles', label: 'Consoles', hint: 'Node shells and VM serial consoles' },
  { id: 'tasks', label: 'Tasks', hint: 'Running and recent work' },
  { id: 'experiments', label: 'Experiments', hint: 'The report’s measurements as charts: OS overhead, network, storage' },
];

export type Link = 'connecting' | 'open' | 'lost';

interface AppStore {
  screen: Screen;
  link: Link;
  info?: Output<'app.info'>;
  infoError?: ShownError;
  go(screen: Screen): void;
  setLink(l: Link): void;
  loadInfo(): Promise<void>;
}

function screenFromHash(): Screen {
  const h = typeof location === 'undefined' ? '' : location.hash.replace(/^#\/?/, '');
  return (SCREENS.find((s) => s.id === h)?.id) ?? 'connect';
}

export const useApp = create<AppStore>()((set) => ({
  screen: screenFromHash(),
  link: 'connecting',
  go(screen) {
    set({ screen });
    if (typeof location !== 'undefined' && location.hash !== `#/${screen}`) history.replaceState(null, '', `#/${screen}`);
  },
  setLink: (link) => set({ link }),
  async loadInfo() {
    try {
      set({ info: await api().call('app.info', {}), infoError: undefined });
    } catch (e) {
      set({ infoError: shown(e) });
    }
  },
}));
