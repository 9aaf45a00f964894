import { useEffect, useMemo } from 'react';
import { useTopology } from '../stores/topology.js';
import { useEvacuation } from '../stores/evacuation.js';
import { useTasks } from '../stores/tasks.js';
import { dbRoles, dbSummary, evacuationSummary, EVAC_ACTION_WORD, EVAC_FALLBACK_WORD, type Transit } from '../stores/topology.status.logic.js';
import { Badge, Dialog, InlineError, Progress } from '../components/common.js';

/** The lane's cluster-database role (db.status), or nothing when the node holds no member. */
export function DbRoleBadge({ node }: { node: string }) {
  // The store's db object is the selected value (a fresh derived object per read would loop).
  const db = useTopology((s) => s.db);
  const role = useMemo(() => dbRoles(db).get(node), [db, node]);
  if (!role) return null;
  return <span className={`badge badge-${role.tone === 'good' ? 'ok' : role.tone === 'muted' ? 'muted' : role.tone} db-role db-${role.role}`} data-db-role={role.role} title={role.title}>{role.role === 'primary' ? '★ ' : ''}{role.label}</span>;
}

/** The status bar's line on the database: the primary, or that there is none. */
export function DbStatusItem() {
  const db = useTopology((s) => s.db);
  const dbError = useTopology((s) => s.dbError);
  const summary = useMemo(() => dbSummary(db, dbError), [db, dbError]);
  if (!summary) return null;
  return <span className={`sb-item${summary.tone === 'bad' ? ' sb-bad' : ''}`} data-testid="db-primary">{summary.text}</span>;
}

/** A chip's transit badge: the word, with a spinner while a live task acts on it. */
export function TransitBadge({ transit }: { transit: Transit }) {
  return (
    <span className={`transit-badge${transit.live ? ' live' : ' stale'}`} data-transit={transit.word}>
      {transit.live && <span className="spinner tiny" aria-hidden="true" />}{transit.word}
    </span>
  );
}

/** The lane's evacuation this window started, while its task runs. */
export function EvacuationProgress({ node }: { node: string }) {
  const taskId = useEvacuation((s) => s.running[node]);
  const task = useTasks((s) => (taskId ? s.byId[taskId] : undefined));
  // The chips move as each VM lands: every step the task finishes, and its end, refetch the lanes.
  const done = task?.steps.filter((x) => x.state === 'done' || x.state === 'failed').length ?? 0;
  useEffect(() => { if (taskId) void useTopology.getState().load(); }, [taskId, done, task?.state]);
  if (!taskId || (task && task.state !== 'running')) {
    return task && task.state === 'failed' ? <div className="evac-line bad" role="status">Evacuation failed: {task.error?.message ?? 'see Tasks'}</div> : null;
  }
  return <div className="evac-line" role="status"><span className="spinner tiny" aria-hidden="true" />Evacuating{task?.currentStep ? `: ${task.currentStep}` : '…'}<Progress value={task?.progress ?? 0} label={`evacuating ${node}`} /></div>;
}

const MODES = [
  { id: 'live', label: 'Live migration', detail: 'they keep running' },
  { id: 'cold', label: 'Stop here, start there', detail: 'a reboot' },
  { id: 'stop', label: 'Stop them', detail: 'they stay stopped' },
] as const;

/** What the CLI's --fallback offers: main's rule says what each does to each VM (the plan below). */
const FALLBACKS = [
  { id: 'none', label: 'Leave it, report it', detail: 'a VM that cannot go live stays on the node and the task says so' },
  { id: 'cold', label: 'Stop here, start there', detail: 'a failed live migration becomes a reboot on the target' },
  { id: 'stop', label: 'Stop it', detail: 'a failed live migration, or a VM that fits nowhere, is stopped and placed when its VC starts' },
] as const;

/** The plan main computes (node.evacuatePlan), VM by VM, then Evacuate or Cancel. Nothing happens before the click. */
export function EvacuateDialog() {
  const { node, mode, fallback, plan, loading, error, setMode, setFallback, close, confirm } = useEvacuation();
  if (!node) return null;
  const summary = plan ? evacuationSummary(plan) : undefined;
  return (
    <Dialog
      title={summary?.title ?? `Evacuate ${node}?`}
      onClose={close}
      wide
      footer={<>
        <button className="btn" onClick={close}>Cancel</button>
        {summary?.button && <button className="btn primary" disabled={loading} onClick={() => void confirm()}>{summary.button}</button>}
      </>}
    >
      <p className="muted">Every VM leaves {node} for a node placement picks by its VC's policy and mode; {node} then stays in maintenance (placement skips it) until it is restored.</p>
      <div className="seg" role="radiogroup" aria-label="How running VMs move">
        {MODES.map((m) => (
          <label key={m.id} className={`seg-item${mode === m.id ? ' on' : ''}`} title={m.detail}>
            <input type="radio" name="evac-mode" value={m.id} checked={mode === m.id} onChange={() => void setMode(m.id)} />{m.label}
          </label>
        ))}
      </div>
      {mode !== 'stop' && (
        <div className="evac-fallback">
          <span className="muted small">When live migration is not to be had:</span>
          <div className="seg" role="radiogroup" aria-label="When live migration is not to be had">
            {FALLBACKS.map((f) => (
              <label key={f.id} className={`seg-item${fallback === f.id ? ' on' : ''}`} title={f.detail}>
                <input type="radio" name="evac-fallback" value={f.id} checked={fallback === f.id} onChange={() => void setFallback(f.id)} />{f.label}
              </label>
            ))}
          </div>
        </div>
      )}
      <InlineError {...(error ? { error } : {})} />
      {loading && !plan ? <p className="muted"><span className="spinner tiny" aria-hidden="true" /> Asking for the plan…</p>
        : plan && plan.steps.length === 0 ? <p>No VM is on {node}.</p>
        : plan && (
          <ul className="plan" aria-label="Evacuation plan">
            {plan.steps.map((s) => (
              <li key={`${s.vc}/${s.vm}`} className={`plan-${s.action}`} data-vm={`${s.vc}/${s.vm}`} data-to={s.to ?? ''} data-action={s.action} data-fallback={s.fallback ?? ''}>
                <span className="plan-vm mono">{s.vc}/{s.vm}{s.to ? ` → ${s.to}` : ''}</span>
                <span className="plan-action">
                  <Badge state={s.action === 'refuse' ? 'bad' : s.action === 'none' ? 'muted' : 'info'}>{EVAC_ACTION_WORD[s.action]}</Badge>
                  {s.fallback && <Badge state="muted">{EVAC_FALLBACK_WORD[s.fallback]}</Badge>}
                </span>
                <span className="plan-says">{s.reason}</span>
              </li>
            ))}
          </ul>
        )}
    </Dialog>
  );
}

/** Why the drag just tried did not start: shown for a few seconds, or until closed. */
export function DragRefusal() {
  const refused = useTopology((s) => s.refused);
  useEffect(() => {
    if (!refused) return;
    const t = setTimeout(() => { if (useTopology.getState().refused === refused) useTopology.setState({ refused: undefined }); }, 6000);
    return () => clearTimeout(t);
  }, [refused]);
  if (!refused) return null;
  return (
    <div className="notice warn drag-refused" role="status" data-vm={refused.key}>
      <strong>{refused.key} cannot move now.</strong> {refused.reason}
      <button className="btn ghost small dismiss" onClick={() => useTopology.setState({ refused: undefined })}>Dismiss</button>
    </div>
  );
}
