import { useEffect } from 'react';
import type { NodeInfo } from '../../../main/api/contract.js';
import { useTopology } from '../stores/topology.js';
import { useNodes } from '../stores/nodes.js';
import { useConsoles } from '../stores/consoles.js';
import { useApp } from '../stores/app.js';
import { capacityVerdict, fmtMb, stateTone } from '../stores/nodes.logic.js';
import { execOn } from '../actions/nodes.js';
import { Badge, Empty, ErrorState, Loading } from '../components/common.js';
import { DatabaseCard, ServicesCard } from './ClusterServices.js';

const KVM_LABEL: Record<string, string> = { usable: 'usable', unusable: 'not usable', absent: 'no /dev/kvm', unverified: 'not checked yet' };

export function NodesScreen() {
  const { nodes, error, loading, load } = useTopology();
  const { selected, select, loadDb, loadServices } = useNodes();
  useEffect(() => { void load(); void loadDb(); void loadServices(); }, [load, loadDb, loadServices]);
  const node = nodes?.find((n) => n.name === selected);
  return (
    <div className="screen">
      <header className="screen-head row-between">
        <div>
          <h1>Nodes</h1>
          <p className="lead">What each node is and has: kernel, declared against detected capacity, KVM, the tools the app needs; the cluster database and the services every node runs.</p>
        </div>
        <div className="toolbar">
          <button className="btn" onClick={() => { void load(); void loadDb(); void loadServices(); }} disabled={loading}>Refresh</button>
        </div>
      </header>
      {error && !nodes ? <ErrorState error={error} what="the nodes" onRetry={load} />
        : !nodes ? <Loading what="nodes" />
        : nodes.length === 0 ? <Empty title="No nodes">Connect to a cluster first.</Empty>
        : (
          <div className={node ? 'split nodes-split' : ''}>
            <NodeTable nodes={nodes} selected={selected} onSelect={(n) => select(n === selected ? undefined : n)} />
            {node && <NodeDetail node={node} />}
          </div>
        )}
      <div className="admin-grid">
        <DatabaseCard />
        <ServicesCard />
      </div>
    </div>
  );
}

function NodeTable({ nodes, selected, onSelect }: { nodes: NodeInfo[]; selected?: string; onSelect: (n: string) => void }) {
  return (
    <table className="table node-table" aria-label="Nodes">
      <thead><tr><th>Node</th><th>Kernel</th><th>Cores</th><th>Memory</th><th>KVM</th><th>Tools</th></tr></thead>
      <tbody>
        {nodes.map((n) => {
          const cap = capacityVerdict(n.declared ?? { cores: n.cores, memMb: n.memMb }, n.detected);
          const missing = n.missingTools ?? [];
          return (
            <tr key={n.name} className={`clickable${selected === n.name ? ' row-selected' : ''}`} onClick={() => onSelect(n.name)} data-node={n.name}>
              <td>
                <div className="node-cell"><span className={`dot dot-${n.state}`} aria-hidden="true" /><strong>{n.name}</strong>{n.inUse && <Badge state="info">in use</Badge>}{n.state !== 'up' && <Badge state="bad">{n.state}</Badge>}</div>
                <div className="mono small muted">{n.address}{n.hostname && n.hostname !== n.name ? ` · ${n.hostname}` : ''}</div>
              </td>
              <td className="mono small">{n.kernel ?? <span className="muted">—</span>}</td>
              <td title={cap.text}><Declared declared={n.declared?.cores ?? n.cores} detected={n.detected?.cores} level={cap.level} /></td>
              <td title={cap.text}><Declared declared={n.declared?.memMb ?? n.memMb} detected={n.detected?.memMb} level={cap.level} fmt={fmtMb} /></td>
              <td>{n.kvm ? <Badge state={stateTone(n.kvm)}>{KVM_LABEL[n.kvm] ?? n.kvm}</Badge> : <span className="muted">—</span>}</td>
              <td>{n.missingTools === undefined ? <span className="muted" title="not reported">—</span>
                : missing.length === 0 ? <Badge state="ok">all present</Badge>
                : <span className="tools-missing">{missing.map((t) => <Badge key={t} state="bad">{t}</Badge>)}</span>}</td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

/** "4 of 8": declared (what placement trusts) of detected (what is there); amber when it declares more. */
function Declared({ declared, detected, level, fmt = String }: { declared: number; detected?: number; level: string; fmt?: (n: number) => string }) {
  return (
    <span className={`declared declared-${detected !== undefined && declared > detected ? 'over' : 'ok'}`}>
      <span className="mono">{fmt(declared)}</span>
      {detected !== undefined && <span className="muted small"> of {fmt(detected)}</span>}
      {level === 'warn' && detected !== undefined && declared > detected && <span className="warn-mark" aria-label="declares more than it has"> ⚠</span>}
    </span>
  );
}

function NodeDetail({ node }: { node: NodeInfo }) {
  const open = useConsoles((s) => s.open);
  const go = useApp((s) => s.go);
  const select = useNodes((s) => s.select);
  const cap = capacityVerdict(node.declared ?? { cores: node.cores, memMb: node.memMb }, node.detected);
  const tools = Object.entries(node.tools ?? {});
  return (
    <aside className="detail" aria-label={`node ${node.name}`}>
      <div className="detail-head">
        <h2><span className={`dot dot-${node.state}`} /> {node.name}</h2>
        <Badge state={node.state === 'up' ? 'ok' : 'bad'}>{node.state}</Badge>
        <button className="btn small ghost" onClick={() => select(undefined)} aria-label="Close details">✕</button>
      </div>
      {node.error && <div className="inline-error" role="alert"><strong>{node.error}</strong>{node.errorCode ? <span className="muted small"> ({node.errorCode})</span> : null}</div>}
      <dl className="facts">
        <dt>Address</dt><dd className="mono">{node.address}</dd>
        <dt>Host name</dt><dd className="mono">{node.hostname ?? '—'}</dd>
        <dt>Kernel</dt><dd className="mono">{node.kernel ?? '—'}</dd>
        <dt>Declared</dt><dd>{node.declared ? `${node.declared.cores} cores, ${fmtMb(node.declared.memMb)}` : `${node.cores} cores, ${fmtMb(node.memMb)}`} <span className="muted small">(what placement counts on)</span></dd>
        <dt>Detected</dt><dd>{node.detected ? `${node.detected.cores} cores, ${fmtMb(node.detected.memMb)}` : '—'}</dd>
        <dt>Capacity</dt><dd><Badge state={cap.level === 'ok' ? 'ok' : cap.level === 'warn' ? 'warn' : 'muted'}>{cap.level === 'unknown' ? 'unknown' : cap.level === 'ok' ? 'fits' : 'over-declared'}</Badge> {cap.text}</dd>
        <dt>KVM</dt><dd>{node.kvm ? <><Badge state={stateTone(node.kvm)}>{KVM_LABEL[node.kvm] ?? node.kvm}</Badge> {node.kvmReason && <span className="small">{node.kvmReason}</span>}</> : '—'}{node.kvm && node.kvm !== 'usable' && <div className="muted small">VMs run with TCG (software emulation): slower, but they run.</div>}</dd>
      </dl>
      {tools.length > 0 && (
        <>
          <h3>Tools the app needs</h3>
          <ul className="tool-list">
            {tools.map(([t, ok]) => <li key={t} className={ok ? 'tool-ok' : 'tool-missing'}><span aria-hidden="true">{ok ? '✓' : '✕'}</span> <span className="mono">{t}</span>{ok ? '' : ' — missing'}</li>)}
          </ul>
        </>
      )}
      <div className="control-row">
        <button className="btn" disabled={node.state !== 'up'} onClick={() => { void open({ kind: 'node', node: node.name }); go('consoles'); }}>Open shell</button>
        <button className="btn" onClick={() => execOn([node.name])}>Run a command here…</button>
      </div>
    </aside>
  );
}
