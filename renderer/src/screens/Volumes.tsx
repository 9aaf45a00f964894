import { useEffect, useState } from 'react';
import { useVolumes, flattenTree, fmtBytes } from '../stores/volumes.js';
import { Badge, Dialog, Empty, ErrorState, InlineError, Loading } from '../components/common.js';

const KIND_LABEL: Record<string, string> = { image: 'OS image', original: 'cluster original', 'node-root': 'node root', 'vm-disk': 'VM disk', swap: 'swap', state: 'saved state', other: 'volume' };

export function VolumesScreen() {
  const { tree, error, loading, load, collapsed, toggle, reset, remove, actionError } = useVolumes();
  const [confirming, setConfirming] = useState<{ path: string; what: 'reset' | 'delete' } | undefined>();
  useEffect(() => { void load(); }, [load]);
  const rows = tree ? flattenTree(tree, collapsed) : [];
  return (
    <div className="screen">
      <header className="screen-head row-between">
        <div>
          <h1>Volumes</h1>
          <p className="lead">Snapshot trees on shared storage: each template with the copy-on-write overlays cloned from it. Allocated is what an overlay really holds; virtual is the size its user sees.</p>
        </div>
        <div className="toolbar"><button className="btn" onClick={() => void load()} disabled={loading}>Refresh</button></div>
      </header>
      <InlineError error={actionError} />
      {error && !tree ? <ErrorState error={error} what="volumes" onRetry={load} />
        : !tree ? <Loading what="volumes" />
        : tree.length === 0 ? <Empty title="No volumes">Build an OS image (vlx image build tiny) or create a virtual cluster.</Empty>
        : (
          <table className="table tree">
            <thead><tr><th>Volume</th><th>Kind</th><th>Used by</th><th className="num">Allocated</th><th className="num">Virtual</th><th>Share</th><th /></tr></thead>
            <tbody>
              {rows.map(({ v, depth }) => {
                const name = v.path.split('/').slice(-2).join('/');
                const frac = v.virtualBytes > 0 ? v.allocatedBytes / v.virtualBytes : 0;
                return (
                  <tr key={v.path} title={v.path}>
                    <td>
                      <span className="tree-indent" style={{ width: depth * 18 }} />
                      {v.children.length > 0
                        ? <button className="twisty" onClick={() => toggle(v.path)} aria-expanded={!collapsed[v.path]} aria-label={`${collapsed[v.path] ? 'expand' : 'collapse'} ${name}`}>{collapsed[v.path] ? '▸' : '▾'}</button>
                        : <span className="twisty-space" />}
                      <span className="mono">{name}</span>
                      {v.children.length > 0 && <span className="muted small"> · {v.children.length} overlay{v.children.length === 1 ? '' : 's'}</span>}
                    </td>
                    <td><Badge state={v.kind === 'image' || v.kind === 'original' ? 'info' : 'muted'}>{KIND_LABEL[v.kind] ?? v.kind}</Badge></td>
                    <td>{v.usedBy ?? <span className="muted">—</span>}</td>
                    <td className="num mono">{fmtBytes(v.allocatedBytes)}</td>
                    <td className="num mono">{fmtBytes(v.virtualBytes)}</td>
                    <td><div className="usage-bar usage-ok mini"><div style={{ width: `${Math.min(100, frac * 100)}%` }} /></div></td>
                    <td className="actions">
                      {v.canReset && <button className="btn small" onClick={() => setConfirming({ path: v.path, what: 'reset' })}>Reset</button>}
                      {v.canDelete && <button className="btn small danger" onClick={() => setConfirming({ path: v.path, what: 'delete' })}>Delete</button>}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        )}
      {confirming && (
        <Dialog title={confirming.what === 'reset' ? 'Reset this volume to its template?' : 'Delete this volume?'} onClose={() => setConfirming(undefined)}
          footer={<>
            <button className="btn" onClick={() => setConfirming(undefined)}>Cancel</button>
            <button className="btn danger" onClick={() => { const c = confirming; setConfirming(undefined); void (c.what === 'reset' ? reset(c.path) : remove(c.path)); }}>{confirming.what === 'reset' ? 'Reset' : 'Delete'}</button>
          </>}>
          <p className="mono">{confirming.path}</p>
          <p>{confirming.what === 'reset' ? 'Every change written to it since it was cloned is lost; it becomes a fresh overlay of its template.' : 'The file is removed from shared storage.'}</p>
        </Dialog>
      )}
    </div>
  );
}
