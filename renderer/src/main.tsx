import { createRoot } from 'react-dom/client';
import '@xterm/xterm/css/xterm.css';
import './styles.css';
import { setTransport, api } from './api.js';
import { electronTransport } from './transport/electron.js';
import { webTransport } from './transport/web.js';
import { useApp } from './stores/app.js';
import './stores/theme.js';
import { followTaskEvents, useTasks } from './stores/tasks.js';
import { followTerminalEvents } from './stores/consoles.js';
import { useTopology } from './stores/topology.js';
import { useVcs } from './stores/vcs.js';
import { useClusters } from './stores/clusters.js';
import { useVolumes } from './stores/volumes.js';
import { useImages } from './stores/images.js';
import { useNodes } from './stores/nodes.js';
import { useExperiments } from './stores/experiments.js';
import { App } from './App.js';

const transport = window.vlx
  ? electronTransport(window.vlx)
  : webTransport((s) => useApp.getState().setLink(s));
if (window.vlx) useApp.getState().setLink('open');
setTransport(transport);

followTaskEvents();
followTerminalEvents();

// Refetch what a screen holds when the main side says it changed, and when work that
// changes it ends; nothing polls.
api().on('state.changed', ({ what }) => {
  if (what === 'clusters') { void useClusters.getState().load(); void useApp.getState().loadInfo(); }
  if (what === 'lab') void useClusters.getState().loadLab();
  if (what === 'nodes' || what === 'vcs') { void useTopology.getState().load(); void useVcs.getState().load(); }
  if (what === 'nodes' && useApp.getState().screen === 'nodes') void useNodes.getState().loadServices();
  if (what === 'images') { void useVcs.getState().load(); void useImages.getState().load(); }
  if (what === 'volumes') void useVolumes.getState().load();
  if (what === 'experiments' && useApp.getState().screen === 'experiments') void useExperiments.getState().load();
});
api().on('task', (ev) => {
  if (ev.type !== 'task' || ev.task.state === 'running') return;
  const t = ev.task;
  if (t.kind === 'vm.move') useTopology.getState().taskEnded(t.id, t.state === 'succeeded', t.error?.message, t.target);
  if (t.kind.startsWith('vc.') || t.kind === 'vm.move') { void useVcs.getState().load(); void useTopology.getState().load(); }
  if (t.kind.startsWith('image')) void useImages.getState().load();
  if (t.kind.startsWith('experiment.') && useApp.getState().screen === 'experiments') void useExperiments.getState().load();
  if (t.kind === 'db.deploy') void useNodes.getState().loadDb();
  if (t.kind === 'services.deploy') void useNodes.getState().loadServices();
  if (t.kind.startsWith('lab.')) { void useClusters.getState().loadLab(); void useClusters.getState().load(); void useApp.getState().loadInfo(); }
});

void useApp.getState().loadInfo();
void useTasks.getState().load();

createRoot(document.getElementById('root')!).render(<App />);
