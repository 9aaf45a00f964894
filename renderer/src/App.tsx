import { DbStatusItem } from './screens/TopologyParts.js';
import { useApp, SCREENS, type Screen } from './stores/app.js';
import { useTasks } from './stores/tasks.js';
import { useTopology } from './stores/topology.js';
import { ConnectScreen } from './screens/Connect.js';
import { TopologyScreen } from './screens/Topology.js';
import { VcsScreen } from './screens/VirtualClusters.js';
import { VolumesScreen } from './screens/Volumes.js';
import { ConsolesScreen } from './screens/Consoles.js';
import { TasksScreen } from './screens/Tasks.js';
import { ExecScreen } from './screens/Exec.js';
import { ImagesScreen } from './screens/Images.js';
import { NodesScreen } from './screens/Nodes.js';
import { InstallScreen } from './screens/Install.js';
import { ExperimentsScreen } from './screens/Experiments.js';
import { Icon } from './components/Icon.js';
import { Palette } from './components/Palette.js';
import { AppMenu, ThemeSwitch } from './components/AppMenu.js';
import { ACTIONS } from './actions/index.js';
import { listenForShortcuts } from './actions/keys.js';
import { useEffect } from 'react';

const VIEWS: Record<Screen, () => React.JSX.Element> = {
  connect: ConnectScreen,
  topology: TopologyScreen,
  nodes: NodesScreen,
  vcs: VcsScreen,
  images: ImagesScreen,
  volumes: VolumesScreen,
  install: InstallScreen,
  exec: ExecScreen,
  consoles: ConsolesScreen,
  tasks: TasksScreen,
  experiments: ExperimentsScreen,
};

export function App() {
  const screen = useApp((s) => s.screen);
  const go = useApp((s) => s.go);
  const running = useTasks((s) => s.order.filter((id) => s.byId[id]?.state === 'running' && !s.byId[id]?.interrupted).length);
  const notUp = useTopology((s) => s.nodes?.filter((n) => (n.health ?? n.state) !== 'up').length ?? 0);
  const View = VIEWS[screen];
  useEffect(() => listenForShortcuts(), []);
  return (
    <div className="shell">
      <nav className="sidebar" aria-label="Screens">
        <div className="brand">
          <span className="brand-mark" aria-hidden="true">VL</span>
          <span className="brand-text">VirtuaLinux<small>Manager</small></span>
        </div>
        {SCREENS.map((s) => (
          <button key={s.id} className={`nav${screen === s.id ? ' active' : ''}`} onClick={() => go(s.id)} title={`${s.hint}${shortcutOf(`go.${s.id}`)}`} aria-current={screen === s.id ? 'page' : undefined} data-screen={s.id}>
            <Icon name={s.id} />
            <span>{s.label}</span>
            {s.id === 'tasks' && running > 0 && <span className="nav-count" aria-label={`${running} running`}>{running}</span>}
          </button>
        ))}
        <span className="spacer" />
        <AppMenu />
      </nav>
      <main className="content">
        <View />
      </main>
      <StatusBar />
      <Palette />
    </div>
  );
}

function StatusBar() {
  const info = useApp((s) => s.info);
  const link = useApp((s) => s.link);
  const nodeInUse = useTopology((s) => s.nodes?.find((n) => n.inUse)?.name);
  const running = useTasks((s) => s.order.filter((id) => s.byId[id]?.state === 'running' && !s.byId[id]?.interrupted).length);
  const notUp = useTopology((s) => s.nodes?.filter((n) => (n.health ?? n.state) !== 'up').length ?? 0);
  return (
    <footer className="statusbar" role="contentinfo">
      <span className={`link link-${link}`}>{link === 'open' ? 'Connected to app' : link === 'connecting' ? 'Connecting…' : 'App connection lost: reconnecting'}</span>
      <span className="sb-item">Cluster: <strong>{info?.cluster ?? 'none'}</strong></span>
      <span className="sb-item">Node in use: <strong>{info?.nodeInUse ?? nodeInUse ?? '—'}</strong></span>
      <span className="sb-spacer" />
      <DbStatusItem />
      <span className="sb-item" data-testid="nodes-not-up">{notUp > 0 ? `${notUp} node${notUp === 1 ? '' : 's'} not up` : 'All nodes up'}</span>
      <span className="sb-item">{running > 0 ? `${running} task${running === 1 ? '' : 's'} running` : 'No tasks running'}</span>
      <ThemeSwitch />
      <span className="sb-item muted">{info ? `v${info.version} · ${info.face === 'electron' ? 'desktop' : 'browser bridge'}` : ''}</span>
    </footer>
  );
}

const shortcutOf = (id: string) => {
  const keys = ACTIONS.find((a) => a.id === id)?.shortcut;
  return keys ? ` (${keys.join(', ')})` : '';
};
