import { useEffect, useRef, useState } from 'react';
import { useConsoles, mountTerminal } from '../stores/consoles.js';
import { useTopology } from '../stores/topology.js';
import { Empty } from '../components/common.js';

export function ConsolesScreen() {
  const { tabs, active, activate, close, reconnect, open } = useConsoles();
  const nodes = useTopology((s) => s.nodes);
  const vcs = useTopology((s) => s.vcs);
  const load = useTopology((s) => s.load);
  const [picking, setPicking] = useState(false);
  useEffect(() => { if (!nodes) void load(); }, [nodes, load]);
  const tab = tabs.find((t) => t.id === active);
  return (
    <div className="screen screen-consoles">
      <div className="tabs" role="tablist" aria-label="Consoles">
        {tabs.map((t) => (
          <div key={t.id} className={`tab${t.id === active ? ' active' : ''} tab-${t.state}`} role="tab" aria-selected={t.id === active}>
            <button className="tab-title" onClick={() => activate(t.id)}><span className={`dot dot-${t.state === 'open' ? 'up' : t.state === 'connecting' ? 'unknown' : 'down'}`} />{t.title}</button>
            <button className="tab-close" onClick={() => void close(t.id)} aria-label={`close ${t.title}`}>×</button>
          </div>
        ))}
        <div className="tab-add">
          <button className="btn small" onClick={() => setPicking((p) => !p)} aria-expanded={picking}>+ Open console</button>
          {picking && (
            <div className="menu menu-down" role="menu">
              <div className="menu-sep">Node shell</div>
              {(nodes ?? []).map((n) => <button key={n.name} role="menuitem" disabled={n.state !== 'up'} onClick={() => { setPicking(false); void open({ kind: 'node', node: n.name }); }}>{n.name} <span className="muted small">{n.address}</span></button>)}
              {!nodes?.length && <div className="muted small pad">no nodes known</div>}
              <div className="menu-sep">VM serial console</div>
              {(vcs ?? []).flatMap((vc) => vc.vms.filter((vm) => vm.state === 'running').map((vm) => (
                <button key={`${vc.name}/${vm.name}`} role="menuitem" onClick={() => { setPicking(false); void open({ kind: 'vm', vc: vc.name, vm: vm.name }); }}>{vc.name}/{vm.name} <span className="muted small">{vm.node}</span></button>
              )))}
              {!(vcs ?? []).some((vc) => vc.vms.some((vm) => vm.state === 'running')) && <div className="muted small pad">no running VMs</div>}
            </div>
          )}
        </div>
      </div>
      {!tab ? (
        <Empty title="No consoles open">Open a node's shell or a VM's serial console with “+ Open console”, or double-click a node or a VM in the topology.</Empty>
      ) : (
        <>
          <div className="term-bar">
            <span className="mono">{tab.title}</span>
            <span className={`term-state term-${tab.state}`}>{tab.state === 'open' ? 'connected' : tab.state === 'connecting' ? 'connecting…' : tab.state === 'lost' ? `connection lost${tab.reason ? `: ${tab.reason}` : ''}` : tab.state === 'failed' ? `could not connect${tab.reason ? `: ${tab.reason}` : ''}` : `closed${tab.reason ? `: ${tab.reason}` : ''}`}</span>
            <span className="spacer" />
            <span className="muted small">Ctrl+Shift+C / Ctrl+Shift+V: copy / paste</span>
            {tab.state !== 'open' && tab.state !== 'connecting' && <button className="btn small primary" onClick={() => void reconnect(tab.id)}>Reconnect</button>}
          </div>
          <TerminalPane key={tab.id} id={tab.id} />
        </>
      )}
    </div>
  );
}

function TerminalPane({ id }: { id: string }) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => (ref.current ? mountTerminal(id, ref.current) : undefined), [id]);
  return <div className="term-pane" ref={ref} data-terminal={id} />;
}
