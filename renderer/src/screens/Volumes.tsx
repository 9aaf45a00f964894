import { useEffect, useState } from 'react';
import { useVolumes, flattenTree, fmtBytes } from '../stores/volumes.js';
import { Badge, Dialog, Empty, ErrorState, InlineError, Loading } from '../components/common.js';
import { TaskProgress } from '../components/TaskProgress.js';
import type { VolumeNodeT } from '../../../main/api/contract.js';
import { SnapshotDialog, SnapshotConfirm, type SnapshotAsk } from './VolumesSnapshot.js';

const KIND_LABEL: Record<string, string> = {
  image: 'OS image', original: 'cluster original', 'node-root': 'node root', 'vm-disk': 'VM disk', swap: 'swap', state: 'saved state',
  snapshot: 'VC snapshot', overlay: 'VM disk (writes here)', other: 'volume',
};

/** The VC a row of a VM's disk belongs to: snapshot rows and overlays carry it; a plain VM disk says vc/vm in usedBy. */
const vcOf = (v: VolumeNodeT): string | undefined => v.vc ?? (v.kind === 'vm-disk' ? v.usedBy?.split('/')[0] : undefined);

export function VolumesScreen() {
  const { tree, error, loading, load, collapsed, toggle, reset, remove, actionError, lastTask } = useVolumes();
  const [confirming, setConfirming] = useState<{ path: string; what: 'reset' | 'delete' } | undefined>();
  const [asking, setAsking] = useState<SnapshotAsk | undefined>();
  useEffect(() => { void load(); }, [load]);
  const rows = tree ? flattenTree(tree, collapsed) : [];
  return (
    <div className="screen">
      <header className="screen-head row-between">
        <div>
          <h1>Volumes</h1>
          <p className="lead">Snapshot trees on shared storage: each template with the copy-on-write overlays cloned from it, and each VM disk's VC snapshots as the files they froze, with the one each VM writes to now. Allocated is what a file really holds; virtual is the size its user sees.</p>
        </div>
        <div className="toolbar"><button className="btn" onClick={() => void load()} disabled={loading}>Refresh</button></div>
      </header>
      <InlineError error={actionError} />
      {lastTask && <TaskProgress taskId={lastTask} label="snapshot" lines={3} />}
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
                      {v.kind === 'snapshot' && <> <Badge state={v.current ? 'ok' : 'info'}>{v.tag}</Badge>{v.current && <span className="muted small"> · runs on this</span>}</>}
                      {v.kind === 'overlay' && <> <Badge state="ok">{`${v.vm} writes here`}</Badge></>}
                      {v.kind !== 'snapshot' && v.kind !== 'overlay' && v.children.length > 0 && <span className="muted small"> · {v.children.length} overlay{v.children.length === 1 ? '' : 's'}</span>}
                    </td>
                    <td><Badge state={v.kind === 'image' || v.kind === 'original' ? 'info' : 'muted'}>{KIND_LABEL[v.kind] ?? v.kind}</Badge></td>
                    <td>{v.usedBy ?? <span className="muted">—</span>}</td>
                    <td className="num mono">{fmtBytes(v.allocatedBytes)}</td>
                    <td className="num mono">{fmtBytes(v.virtualBytes)}</td>
                    <td><div className="usage-bar usage-ok mini"><div style={{ width: `${Math.min(100, frac * 100)}%` }} /></div></td>
                    <td className="actions">
                      {v.canReset && <button className="btn small" onClick={() => setConfirming({ path: v.path, what: 'reset' })}>Reset</button>}
                      {v.canDelete && v.kind !== 'snapshot' && <button className="btn small danger" onClick={() => setConfirming({ path: v.path, what: 'delete' })}>Delete</button>}
                      {(v.kind === 'overlay' || v.kind === 'vm-disk') && vcOf(v) && <button className="btn small" onClick={() => setAsking({ what: 'take', vc: vcOf(v)! })}>Snapshot VC…</button>}
                      {v.kind === 'snapshot' && v.vc && v.tag && <>
                        <button className="btn small" onClick={() => setAsking({ what: 'rollback', vc: v.vc!, tag: v.tag! })}>Roll back</button>
                        {v.canDelete && <button className="btn small danger" onClick={() => setAsking({ what: 'delete', vc: v.vc!, tag: v.tag! })}>Delete</button>}
                      </>}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        )}
      {asking?.what === 'take' && <SnapshotDialog vc={asking.vc} onClose={() => setAsking(undefined)} />}
      {asking && asking.what !== 'take' && <SnapshotConfirm ask={asking} onClose={() => setAsking(undefined)} />}
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
