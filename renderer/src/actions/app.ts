import { useApp, SCREENS, type Screen } from '../stores/app.js';
import { useExperiments } from '../stores/experiments.js';
import { usePalette } from '../stores/palette.js';
import { useTheme } from '../stores/theme.js';
import { THEME_LABELS, THEME_SETTINGS } from '../stores/theme.logic.js';
import { useClusters } from '../stores/clusters.js';
import { useTopology } from '../stores/topology.js';
import { useVcs } from '../stores/vcs.js';
import { useVolumes } from '../stores/volumes.js';
import { useTasks } from '../stores/tasks.js';
import { useImages } from '../stores/images.js';
import { useNodes } from '../stores/nodes.js';
import type { Action } from './types.js';

/** What "Refresh" reloads on each screen: what that screen shows. */
export const REFRESH: Partial<Record<Screen, () => Promise<unknown>>> = {
  connect: () => Promise.all([useClusters.getState().load(), useClusters.getState().loadLab()]),
  topology: () => useTopology.getState().load(),
  nodes: () => Promise.all([useTopology.getState().load(), useNodes.getState().loadDb(), useNodes.getState().loadServices()]),
  vcs: () => Promise.all([useVcs.getState().load(), useTopology.getState().load()]),
  images: () => useImages.getState().load(),
  volumes: () => useVolumes.getState().load(),
  exec: () => useTopology.getState().load(),
  consoles: () => useTopology.getState().load(),
  tasks: () => useTasks.getState().load(),
  experiments: () => useExperiments.getState().load(),
};

export const appActions: Action[] = [
  {
    id: 'palette.show', category: 'View', title: 'Show all commands', shortcut: ['Ctrl+Shift+P', 'F1'],
    keywords: 'command palette actions menu help',
    run: () => usePalette.getState().show(),
  },
  ...SCREENS.map((s, i): Action => ({
    id: `go.${s.id}`, category: 'Go to', title: s.label,
    ...(i < 10 ? { shortcut: [`Alt+${(i + 1) % 10}`] } : {}),
    keywords: `${s.hint} screen open show`,
    run: () => useApp.getState().go(s.id),
  })),
  {
    id: 'view.refresh', category: 'View', title: 'Refresh this screen', shortcut: ['Alt+R'], keywords: 'reload update',
    run: () => { void REFRESH[useApp.getState().screen]?.(); },
  },
  {
    id: 'theme.toggle', category: 'Theme', title: 'Switch between light and dark', shortcut: ['Alt+T'], keywords: 'toggle colour color appearance night',
    run: () => useTheme.getState().toggle(),
  },
  ...THEME_SETTINGS.map((t): Action => ({
    id: `theme.${t}`, category: 'Theme', title: THEME_LABELS[t], keywords: `appearance colour color ${t === 'system' ? 'automatic os desktop' : t === 'dark' ? 'night' : 'day'}`,
    run: () => useTheme.getState().set(t),
  })),
];
