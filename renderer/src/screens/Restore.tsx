import { useState } from 'react';
import { useRestore, type RestoreChoice } from '../stores/restore.js';
import { useTasks } from '../stores/tasks.js';
import { Dialog, Empty, ErrorState, Field, InlineError, Loading } from '../components/common.js';
import { TaskProgress } from '../components/TaskProgress.js';

const CHOICES: { id: RestoreChoice; label: string; text: string }[] = [
  { id: 'rebuild-config', label: 'Rebuild configuration', text: 'Regenerate every node\'s configuration and boot entry. Volumes are untouched.' },
  { id: 'reset-all', label: 'Reset all nodes', text: 'Every node\'s root goes back to the original: what the nodes wrote to it is lost.' },
  { id: 'reset-node', label: 'Reset one node', text: 'One node\'s root goes back to the original; the other nodes are untouched.' },
  { id: 'update-original', label: 'Update the original', text: 'The original becomes a copy of the image rebuilt with the change, then every root is reset onto it.' },
];

/** The report's restore.sh as a dialog: what is installed, and the four things it can do. */
export function RestoreDialog() {
  const { status, loading, loadError, load, close, run, starting, runError, taskId } = useRestore();
  const [choice, setChoice] = useState<RestoreChoice>('rebuild-config');
  const [node, setNode] = useState<number>();
  const [formatShared, setFormatShared] = useState(false);
  const [force, setForce] = useState(false);
  const [image, setImage] = useState('');
  const [typed, setTyped] = useState('');
  const task = useTasks((s) => (taskId ? s.byId[taskId] : undefined));
  const container = status?.container ?? '';
  // The service refuses these without the container's name: asked here before it is sent.
  const destructive = choice !== 'rebuild-config' || formatShared;
  const ready = !!status?.installed && (choice !== 'reset-node' || node !== undefined) && (!destructive || typed === container);
  const busy = starting || task?.state === 'running';
  const label = CHOICES.find((c) => c.id === choice)!.label;
  return (
    <Dialog title="Restore the disk-less cluster" onClose={close} wide
      footer={<>
        {destructive && status?.installed && typed !== container && <span className="muted small footer-note">Type the container's name to go on</span>}
        <button className="btn" onClick={close}>Close</button>
        <button className={`btn ${destructive ? 'danger' : 'primary'}`} disabled={!ready || busy}
          onClick={() => void run({ choice, ...(node !== undefined ? { node } : {}), formatShared, force, ...(image.trim() ? { image: image.trim() } : {}), ...(destructive ? { confirm: typed } : {}) })}>
          {starting ? 'Starting…' : choice === 'reset-node' && node !== undefined ? `Reset node ${node}` : label}
        </button>
      </>}>
      {loadError ? <ErrorState error={loadError} what="the installation" onRetry={load} />
        : !status ? <Loading what="the installation" />
        : !status.installed ? <Empty title="No disk-less installation">Install one first: the Install screen starts from the lab example.</Empty>
        : (
          <div className="restore">
            <p className="restore-head">
              Container <strong className="mono" data-testid="restore-container">{container}</strong> on <span className="mono">{status.sharedRoot}</span>,
              {' '}roots served from <span className="mono">{status.storageIp}</span>.
            </p>
            <table className="table compact" aria-label="installed nodes">
              <thead><tr><th>#</th><th>Host name</th><th>Boot IP</th><th>MAC</th><th>Root export</th></tr></thead>
              <tbody>
                {status.nodes.map((n) => (
                  <tr key={n.ordinal} data-node={n.ordinal} className={choice === 'reset-node' && node === n.ordinal ? 'row-selected' : undefined}>
                    <td className="num">{n.ordinal}</td><td><strong>{n.hostname}</strong></td><td className="mono">{n.ip}</td><td className="mono">{n.mac}</td><td className="mono small">{n.export}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            <div className="restore-choices" role="radiogroup" aria-label="what to do">
              {CHOICES.map((c) => (
                <label key={c.id} className={`restore-choice${choice === c.id ? ' active' : ''}`}>
                  <input type="radio" name="restore-choice" value={c.id} checked={choice === c.id} onChange={() => { setChoice(c.id); setTyped(''); }} />
                  <span><strong>{c.label}</strong><span className="muted small">{c.text}</span></span>
                </label>
              ))}
            </div>
            <div className="row3">
              {choice === 'reset-node' && (
                <Field id="restore-node" label="Node">
                  <select id="restore-node" value={node ?? ''} onChange={(e) => setNode(e.target.value ? Number(e.target.value) : undefined)}>
                    <option value="">Choose a node…</option>
                    {status.nodes.map((n) => <option key={n.ordinal} value={n.ordinal}>{n.ordinal}: {n.hostname}</option>)}
                  </select>
                </Field>
              )}
              {choice === 'update-original' && (
                <Field id="restore-image" label="Image with the change" hint="empty: the config's base image, rebuilt">
                  <input id="restore-image" value={image} onChange={(e) => setImage(e.target.value)} autoComplete="off" />
                </Field>
              )}
            </div>
            <div className="control-row">
              {choice !== 'update-original' && <label className="check"><input type="checkbox" checked={formatShared} onChange={(e) => setFormatShared(e.target.checked)} /> Empty the shared volume too</label>}
              <label className="check"><input type="checkbox" checked={force} onChange={(e) => setForce(e.target.checked)} /> Even when the nodes concerned are running</label>
            </div>
            {destructive && (
              <div className="notice warn">
                <p>This cannot be undone: what the nodes wrote {choice === 'rebuild-config' ? 'to the shared volume' : 'to their roots'} is lost.</p>
                <Field id="restore-confirm" label={`Type the container's name, ${container}, to confirm`}>
                  <input id="restore-confirm" value={typed} onChange={(e) => setTyped(e.target.value)} autoComplete="off" spellCheck={false} />
                </Field>
              </div>
            )}
            <InlineError error={runError} />
            {taskId && <TaskProgress taskId={taskId} label={label} lines={8} />}
          </div>
        )}
    </Dialog>
  );
}
