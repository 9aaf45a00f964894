import { useEffect } from 'react';
import { useInstall } from '../stores/install.js';
import { useRestore } from '../stores/restore.js';
import { useTasks } from '../stores/tasks.js';
import { INSTALL_SECTIONS, placeErrors, type InstallField } from '../stores/install.logic.js';
import { ErrorState, Field, InlineError, Loading } from '../components/common.js';
import { TaskProgress } from '../components/TaskProgress.js';
import { MacGathering, NodeTable } from '../components/InstallMacs.js';
import { RestoreDialog } from './Restore.js';

export const fieldId = (path: string) => `i-${path.replace(/\./g, '-')}`;

/**
 * The Install wizard: the lab example with every field of the config and its default, each
 * checked by the service as it is typed; the nodes' MACs gathered three ways; then the
 * install task with its progress. The Restore dialog opens from here.
 */
export function InstallScreen() {
  const { loading, loadError, loadExample, fields, check } = useInstall();
  const openRestore = useRestore((s) => s.show);
  const restoreOpen = useRestore((s) => s.open);
  useEffect(() => { if (!Object.keys(useInstall.getState().fields).length) void loadExample(); }, [loadExample]);
  const placed = placeErrors(check?.errors ?? []);
  return (
    <div className="screen screen-install">
      <header className="screen-head row-between">
        <div>
          <h1>Install</h1>
          <p className="lead">A disk-less cluster: every node boots from the network onto its own copy-on-write overlay of one original on shared storage.</p>
        </div>
        <div className="toolbar">
          <button className="btn" onClick={() => void loadExample()} disabled={loading}>Start again from the example</button>
          <button className="btn" onClick={openRestore}>Restore…</button>
        </div>
      </header>
      {loadError ? <ErrorState error={loadError} what="the example configuration" onRetry={loadExample} />
        : loading || !Object.keys(fields).length ? <Loading what="the example configuration" />
        : (
          <div className="install">
            <form className="install-form" onSubmit={(e) => e.preventDefault()} aria-label="install configuration">
              {INSTALL_SECTIONS.map((s) => (
                <fieldset key={s.title} className="install-section">
                  <legend>{s.title}</legend>
                  <div className="install-grid">
                    {s.fields.map((f) => <ConfigField key={f.path} f={f} error={placed.byField[f.path]} />)}
                  </div>
                </fieldset>
              ))}
              <fieldset className="install-section">
                <legend>Nodes and their MAC addresses</legend>
                {placed.nodeList.map((e) => <div key={e} className="field-error" data-testid="nodes-error">{e}</div>)}
                <NodeTable errors={placed.byNode} />
                <MacGathering />
              </fieldset>
            </form>
            <Summary general={placed.general} />
          </div>
        )}
      {restoreOpen && <RestoreDialog />}
    </div>
  );
}

function ConfigField({ f, error }: { f: InstallField; error?: string }) {
  const value = useInstall((s) => s.fields[f.path] ?? '');
  const setField = useInstall((s) => s.setField);
  const derived = useInstall((s) => (f.derived ? s.lastPlan?.derived?.[f.derived] : undefined));
  const id = fieldId(f.path);
  const common = {
    id, value, 'aria-invalid': !!error, 'aria-describedby': error ? `${id}-err` : undefined, autoComplete: 'off', spellCheck: false,
    'data-path': f.path, placeholder: f.derived ? (derived ? `${derived} (derived)` : 'derived') : '',
  };
  return (
    <div className={f.kind === 'lines' ? 'install-wide' : undefined}>
      <Field id={id} label={f.label} hint={f.hint ?? (f.derived ? 'empty: derived from the networks' : undefined)} error={error}>
        {f.kind === 'lines'
          ? <textarea {...common} rows={3} onChange={(e) => setField(f.path, e.target.value)} />
          : <input {...common} inputMode={f.kind === 'int' ? 'numeric' : 'text'} onChange={(e) => setField(f.path, e.target.value)} />}
      </Field>
    </div>
  );
}

function Summary({ general }: { general: { path: string; rule: string }[] }) {
  const { check, checking, checkError, install, running, runError, taskId } = useInstall();
  const task = useTasks((s) => (taskId ? s.byId[taskId] : undefined));
  const openRestore = useRestore((s) => s.show);
  const n = check?.errors.length ?? 0;
  const busy = running || task?.state === 'running';
  return (
    <aside className="install-side" aria-label="install summary">
      <h3>Check</h3>
      <div className="install-check" data-testid="install-check" data-state={checking ? 'checking' : check?.ok ? 'ok' : 'errors'}>
        {checking ? <span className="muted"><span className="spinner" aria-hidden="true" /> Checking…</span>
          : check?.ok ? <span className="ok-text">The configuration is valid.</span>
          : check ? <span className="bad-text">{n} error{n === 1 ? '' : 's'} to fix</span> : null}
      </div>
      <InlineError error={checkError} />
      {general.length > 0 && (
        <div className="notice bad" role="alert"><ul>{general.map((e) => <li key={e.path + e.rule}><span className="mono">{e.path}</span>: {e.rule}</li>)}</ul></div>
      )}
      {check?.facts?.note && <div className="notice warn">{check.facts.note}</div>}
      {check?.ok && check.derived && (
        <dl className="install-derived">
          <dt>Nodes</dt><dd>{check.nodes?.length ?? 0}</dd>
          <dt>Boot network</dt><dd className="mono">{check.derived.bootNetwork}</dd>
          {check.derived.storageNetwork !== check.derived.bootNetwork && <><dt>Storage network</dt><dd className="mono">{check.derived.storageNetwork}</dd></>}
          <dt>Roots served from</dt><dd className="mono">{check.derived.storageIp}</dd>
          <dt>Gateway</dt><dd className="mono">{check.derived.spare} <span className="muted">({check.derived.primary} / {check.derived.backup})</span></dd>
          {check.facts?.freeMb !== undefined && <><dt>Free on shared storage</dt><dd>{check.facts.freeMb} MB</dd></>}
          {check.facts && check.facts.containersInUse.length > 0 && <><dt>Containers in use</dt><dd className="mono">{check.facts.containersInUse.join(', ')}</dd></>}
        </dl>
      )}
      <button className="btn primary install-go" disabled={!check?.ok || checking || busy} onClick={() => void install()}>
        {running ? 'Starting…' : task?.state === 'running' ? 'Installing…' : 'Install'}
      </button>
      <InlineError error={runError} />
      {taskId && <TaskProgress taskId={taskId} label="Install" lines={10} />}
      {task?.state === 'succeeded' && (
        <p className="detail-note">Installed. Power the machines on to boot them; <button className="btn small" onClick={openRestore}>Restore…</button> resets or rebuilds them.</p>
      )}
    </aside>
  );
}
