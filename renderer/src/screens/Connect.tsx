import { useEffect } from 'react';
import { useClusters, formErrors } from '../stores/clusters.js';
import { useTasks } from '../stores/tasks.js';
import { useApp } from '../stores/app.js';
import { Badge, Empty, ErrorState, Field, InlineError, Loading } from '../components/common.js';
import { TaskProgress } from '../components/TaskProgress.js';
import { LabMachines } from './LabMachines.js';

export function ConnectScreen() {
  const load = useClusters((s) => s.load);
  const loadLab = useClusters((s) => s.loadLab);
  useEffect(() => { void load(); void loadLab(); }, [load, loadLab]);
  return (
    <div className="screen">
      <header className="screen-head">
        <h1>Connect</h1>
        <p className="lead">Manage a cluster through any of its live nodes, or start a real local lab on this machine.</p>
      </header>
      <div className="connect-grid">
        <KnownClusters />
        <AddCluster />
        <LocalLab />
      </div>
    </div>
  );
}

function KnownClusters() {
  const { clusters, current, loading, error, load, use, remove } = useClusters();
  const go = useApp((s) => s.go);
  return (
    <section className="card" aria-labelledby="known-h">
      <h2 id="known-h">Clusters on this workstation</h2>
      {error && !clusters ? <ErrorState error={error} what="clusters" onRetry={load} />
        : !clusters ? <Loading what="clusters" />
        : clusters.length === 0 ? <Empty title="No clusters yet">Connect to a node of a cluster, or start a local lab: it registers itself here.</Empty>
        : (
          <table className="table">
            <thead><tr><th>Name</th><th>Nodes</th><th>User</th><th /></tr></thead>
            <tbody>
              {clusters.map((c) => (
                <tr key={c.name} className={c.name === current ? 'row-current' : ''}>
                  <td><strong>{c.name}</strong> {c.lab && <Badge state="info">lab</Badge>} {c.name === current && <Badge state="ok">in use</Badge>}</td>
                  <td className="mono">{c.nodes.map((n) => n.address).join(', ')}{c.port !== 22 ? `:${c.port}` : ''}</td>
                  <td className="mono">{c.user}{c.keyFile ? '' : ' (agent)'}</td>
                  <td className="actions">
                    {c.name !== current
                      ? <button className="btn small" onClick={() => void use(c.name)}>Use</button>
                      : <button className="btn small" onClick={() => go('topology')}>Open topology</button>}
                    <button className="btn small ghost" onClick={() => { if (confirm(`Forget cluster "${c.name}" on this workstation? Nothing on the cluster changes.`)) void remove(c.name); }}>Forget</button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      {loading && clusters && <div className="muted small">Refreshing…</div>}
    </section>
  );
}

function AddCluster() {
  const { form, flow, flowError, setForm, probe, trustAndAdd, resetFlow } = useClusters();
  const errors = formErrors(form);
  const typed = (k: keyof typeof form) => form[k] !== '' && errors[k];
  const valid = Object.keys(errors).length === 0;
  const busy = flow.step === 'probing' || flow.step === 'adding';
  return (
    <section className="card" aria-labelledby="add-h">
      <h2 id="add-h">Connect to a cluster</h2>
      <form className="form" onSubmit={(e) => { e.preventDefault(); if (valid && !busy) void probe(); }}>
        <div className="row2">
          <Field id="c-name" label="Name on this workstation" error={typed('name') || undefined}>
            <input id="c-name" value={form.name} onChange={(e) => setForm({ name: e.target.value })} placeholder="prod" autoComplete="off" disabled={busy} />
          </Field>
          <Field id="c-address" label="Any node's address" error={typed('address') || undefined}>
            <input id="c-address" value={form.address} onChange={(e) => setForm({ address: e.target.value })} placeholder="10.77.0.1" autoComplete="off" disabled={busy} />
          </Field>
        </div>
        <div className="row3">
          <Field id="c-port" label="SSH port" error={typed('port') || undefined}>
            <input id="c-port" value={form.port} onChange={(e) => setForm({ port: e.target.value })} inputMode="numeric" disabled={busy} />
          </Field>
          <Field id="c-user" label="User" error={typed('user') || undefined}>
            <input id="c-user" value={form.user} onChange={(e) => setForm({ user: e.target.value })} disabled={busy} />
          </Field>
          <Field id="c-key" label="Private key file" hint="empty: use the SSH agent" error={typed('keyFile') || undefined}>
            <input id="c-key" value={form.keyFile} onChange={(e) => setForm({ keyFile: e.target.value })} placeholder="/root/.ssh/id_ed25519" disabled={busy} />
          </Field>
        </div>
        {flow.step !== 'confirm' && flow.step !== 'adding' && (
          <div className="form-actions">
            <button className="btn primary" type="submit" disabled={!valid || busy}>{flow.step === 'probing' ? 'Checking host key…' : 'Check host key'}</button>
          </div>
        )}
      </form>
      {(flow.step === 'confirm' || flow.step === 'adding') && (() => {
        const p = flow.step === 'confirm' ? flow.probe : undefined;
        return p ? (
          <div className={`hostkey hostkey-${p.status}`}>
            {p.status === 'changed' ? (
              <>
                <div className="hostkey-title">Host key changed: refused</div>
                <p>{p.address}:{p.port} now presents a different key than the one remembered. Someone may be intercepting the connection. If the node was reinstalled on purpose, remove its old entry from the app's known_hosts first.</p>
              </>
            ) : p.status === 'new' ? (
              <>
                <div className="hostkey-title">First contact with {p.address}</div>
                <p>Compare this fingerprint with the node's own (on its console: <code>ssh-keygen -lf /etc/ssh/ssh_host_{p.keyType.replace(/^ssh-|-sha2.*$/g, '')}_key.pub</code>) before trusting it.</p>
              </>
            ) : (
              <div className="hostkey-title">{p.address} is already trusted</div>
            )}
            <div className="fingerprint"><span className="muted">{p.keyType}</span> <code data-testid="fingerprint">{p.fingerprint}</code></div>
            <div className="form-actions">
              {p.status !== 'changed' && <button className="btn primary" onClick={() => void trustAndAdd()}>{p.status === 'new' ? 'Trust and connect' : 'Connect'}</button>}
              <button className="btn" onClick={resetFlow}>Cancel</button>
            </div>
          </div>
        ) : <Loading what="the cluster" />;
      })()}
      {flow.step === 'done' && <div className="notice ok">Added cluster <strong>{flow.cluster.name}</strong>; it is now the cluster in use.</div>}
      <InlineError error={flowError} />
    </section>
  );
}

function LocalLab() {
  const { lab, labError, labTask, labForm, setLabForm, labUp, labDown, crash, revive, loadLab } = useClusters();
  const task = useTasks((s) => (labTask ? s.byId[labTask] : undefined));
  const nErr = !/^\d+$/.test(labForm.nodes) || +labForm.nodes < 1 || +labForm.nodes > 32 ? 'from 1 to 32 nodes' : undefined;
  const cErr = !/^\d+$/.test(labForm.cores) || +labForm.cores < 1 ? 'at least 1 core' : undefined;
  const mErr = !/^\d+$/.test(labForm.memMb) || +labForm.memMb < 128 ? 'at least 128 MB' : undefined;
  const running = task?.state === 'running';
  return (
    <section className="card card-lab" aria-labelledby="lab-h">
      <h2 id="lab-h">Start a local lab</h2>
      <p className="muted">A real cluster of network namespaces on this machine: each node has its own sshd, hostname and private directories, on the bridge vlxlab0 (10.77.0.0/24), with shared storage at /srv/virtualinux. Cores and memory are the capacity each node declares for placement. Needs root.</p>
      <div className="row3">
        <Field id="lab-nodes" label="Nodes" error={nErr}>
          <input id="lab-nodes" value={labForm.nodes} onChange={(e) => setLabForm({ nodes: e.target.value })} inputMode="numeric" disabled={running} />
        </Field>
        <Field id="lab-cores" label="Cores per node" error={cErr}>
          <input id="lab-cores" value={labForm.cores} onChange={(e) => setLabForm({ cores: e.target.value })} inputMode="numeric" disabled={running} />
        </Field>
        <Field id="lab-mem" label="Memory per node (MB)" error={mErr}>
          <input id="lab-mem" value={labForm.memMb} onChange={(e) => setLabForm({ memMb: e.target.value })} inputMode="numeric" disabled={running} />
        </Field>
      </div>
      <div className="form-actions">
        <button id="lab-start" className="btn primary" disabled={!!(nErr || cErr || mErr) || running} onClick={() => void labUp()} title={lab?.up ? 'Bring every node back up and check the database; nothing that runs is touched' : undefined}>{lab?.up ? 'Start lab (check and repair)' : 'Start lab'}</button>
        {lab?.up && <button className="btn danger" disabled={running} onClick={() => { if (confirm('Tear down the local lab? Every node, VM and volume of it is removed.')) void labDown(); }}>Tear down</button>}
      </div>
      {labTask && <div data-testid="lab-progress"><TaskProgress taskId={labTask} label="lab" lines={4} /></div>}
      <InlineError error={labError && lab ? labError : undefined} />
      <h3>Lab nodes</h3>
      {labError && !lab ? <ErrorState error={labError} what="the lab status" onRetry={loadLab} />
        : !lab ? <Loading what="the lab status" />
        : !lab.up ? <Empty title="No lab running">Start one above; it takes a few seconds.</Empty>
        : (
          <table className="table compact">
            <thead><tr><th>Node</th><th>Address</th><th>State</th><th /></tr></thead>
            <tbody>
              {lab.nodes.map((n) => (
                <tr key={n.name}>
                  <td><strong>{n.name}</strong></td>
                  <td className="mono">{n.address}</td>
                  <td><Badge state={n.state === 'up' ? 'ok' : 'bad'}>{n.state}</Badge></td>
                  <td className="actions">
                    {n.state === 'up'
                      ? <button className="btn small ghost" onClick={() => void crash(n.name)} title="Kill everything of this node and cut its link">Crash</button>
                      : <button className="btn small" onClick={() => void revive(n.name)}>Revive</button>}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      {lab?.up && <LabMachines />}
    </section>
  );
}
