import { useState } from 'react';
import { useNodes } from '../stores/nodes.js';
import { useTopology } from '../stores/topology.js';
import { migrationsText, parsePort, serviceGrid, servicesVerdict, stateTone } from '../stores/nodes.logic.js';
import { Badge, Dialog, ErrorState, Field, InlineError, Loading } from '../components/common.js';
import { TaskProgress } from '../components/TaskProgress.js';

/** The cluster database: where it is, whether it answers, TLS, migrations; migrate and deploy. */
export function DatabaseCard() {
  const { db, noDb, dbError, dbLoading, loadDb, migrating, migrated, migrate, dbTask } = useNodes();
  const [deploying, setDeploying] = useState(false);
  const pending = db?.migrations?.pending ?? [];
  return (
    <section className="card db-card" aria-labelledby="db-h">
      <div className="row-between"><h2 id="db-h">Cluster database</h2>
        <button className="btn small" onClick={() => void loadDb()} disabled={dbLoading}>Refresh</button>
      </div>
      {noDb ? <div className="notice warn" role="status"><strong>No database yet.</strong> This cluster keeps its state (VCs, tasks) in PostgreSQL on one of its nodes: deploy it below.</div>
        : dbError && !db ? <ErrorState error={dbError} what="the database status" onRetry={loadDb} />
        : !db ? <Loading what="the database status" />
        : (
          <dl className="facts" data-testid="db-status">
            <dt>Where</dt><dd className="mono">{db.endpoint.user}@{db.endpoint.host}:{db.endpoint.port}/{db.endpoint.database} <span className="muted">on {db.endpoint.node}</span></dd>
            <dt>Answers</dt><dd>{db.reachable ? <Badge state="ok">reachable</Badge> : <Badge state="bad">not reachable</Badge>} {db.error && <span className="small">{db.error.message}</span>}</dd>
            <dt>Server</dt><dd>{db.version ? `PostgreSQL ${db.version}` : '—'}</dd>
            <dt>Encryption</dt><dd>{db.tls === undefined ? '—' : db.tls ? <Badge state="ok">TLS, certificate pinned</Badge> : <Badge state="warn">not encrypted</Badge>}</dd>
            <dt>Migrations</dt><dd data-testid="db-migrations">{db.migrations ? migrationsText(db.migrations) : '—'}</dd>
          </dl>
        )}
      <div className="form-actions">
        {db && <button className="btn primary" id="db-migrate" disabled={migrating || !db.reachable || pending.length === 0} onClick={() => void migrate()}
          title={pending.length === 0 ? 'Nothing to apply' : `Apply ${pending.join(', ')}`}>{migrating ? 'Migrating…' : pending.length ? `Apply ${pending.length} migration${pending.length === 1 ? '' : 's'}` : 'Schema is current'}</button>}
        <button className="btn" id="db-deploy-open" onClick={() => setDeploying((d) => !d)} aria-expanded={deploying}>{db ? 'Deploy again…' : 'Deploy…'}</button>
      </div>
      {migrated && <div className="notice ok" role="status">{migrated.length ? `Applied ${migrated.join(', ')}.` : 'Nothing to apply: the schema is current.'}</div>}
      {deploying && <DeployDb done={() => setDeploying(false)} />}
      {dbTask && <TaskProgress taskId={dbTask} label="database deploy" />}
    </section>
  );
}

function DeployDb({ done }: { done: () => void }) {
  const nodes = useTopology((s) => s.nodes ?? []);
  const current = useNodes((s) => s.db?.endpoint);
  const deployDb = useNodes((s) => s.deployDb);
  const actionError = useNodes((s) => s.actionError);
  const up = nodes.filter((n) => n.state === 'up');
  const [node, setNode] = useState(current?.node ?? up[0]?.name ?? '');
  const [port, setPort] = useState(String(current?.port ?? 5432));
  const p = parsePort(port);
  return (
    <div className="deploy-form">
      <div className="row2">
        <Field id="db-node" label="Node">
          <select id="db-node" value={node} onChange={(e) => setNode(e.target.value)}>
            {up.map((n) => <option key={n.name} value={n.name}>{n.name} ({n.address})</option>)}
          </select>
        </Field>
        <Field id="db-port" label="Port" error={'error' in p ? p.error : undefined}>
          <input id="db-port" value={port} onChange={(e) => setPort(e.target.value)} inputMode="numeric" />
        </Field>
      </div>
      <p className="muted small">Installs or repairs PostgreSQL on the node with TLS, makes this workstation's login and applies the migrations. Safe to run again.</p>
      <div className="form-actions">
        <button className="btn primary" id="db-deploy" disabled={!node || 'error' in p} onClick={async () => { if ('port' in p && await deployDb(node, p.port)) done(); }}>Deploy on {node || '…'}</button>
        <button className="btn" onClick={done}>Cancel</button>
      </div>
      <InlineError error={actionError} />
    </div>
  );
}

/** The services every node runs (DHCP, DNS, NTP, gateway VIP, NFS): status, deploy, stop. */
export function ServicesCard() {
  const { services, servicesError, servicesLoading, loadServices, deployServices, stopServices, servicesTask, stopping, stopped, actionError } = useNodes();
  const [confirmStop, setConfirmStop] = useState(false);
  const grid = services ? serviceGrid(services.nodes) : undefined;
  const verdict = services ? servicesVerdict(services) : undefined;
  return (
    <section className="card services-card" aria-labelledby="svc-h">
      <div className="row-between"><h2 id="svc-h">Node services</h2>
        <div className="toolbar">
          <button className="btn small" onClick={() => void loadServices()} disabled={servicesLoading}>Refresh</button>
          <button className="btn small primary" id="services-deploy" onClick={() => void deployServices()}>Deploy</button>
          <button className="btn small danger" id="services-stop" disabled={stopping} onClick={() => setConfirmStop(true)}>{stopping ? 'Stopping…' : 'Stop…'}</button>
        </div>
      </div>
      {servicesError && !services ? <ErrorState error={servicesError} what="the node services" onRetry={loadServices} />
        : !services || !grid ? <Loading what="the node services" />
        : (
          <>
            <div className={`notice ${verdict!.level === 'ok' ? 'ok' : verdict!.level === 'bad' ? 'bad' : 'warn'}`} role="status" data-testid="services-verdict">{verdict!.text}</div>
            <table className="table compact services-table" data-testid="services-table">
              <thead><tr><th>Node</th>{grid.names.map((n) => <th key={n}>{n}</th>)}<th>Gateway</th></tr></thead>
              <tbody>
                {services.nodes.map((n, i) => (
                  <tr key={n.node} data-node={n.node}>
                    <td className="mono">{n.node}</td>
                    {!n.reachable ? <td colSpan={grid.names.length + 1} className="small"><Badge state="bad">did not answer</Badge> {n.error?.message}</td>
                      : !n.deployed && n.services.length === 0 ? <td colSpan={grid.names.length + 1}><Badge state="muted">not deployed</Badge></td>
                      : <>
                        {grid.rows[i]!.cells.map((c, k) => <td key={k}>{c ? <Badge state={stateTone(c.state)}>{c.state}</Badge> : <span className="muted">—</span>}</td>)}
                        <td>{n.holdsVip ? <Badge state="ok">holds {n.vip ?? services.vip ?? 'VIP'}</Badge> : n.vrrp ? <span className="muted small">{n.vrrp.toLowerCase()}</span> : <span className="muted">—</span>}</td>
                      </>}
                  </tr>
                ))}
              </tbody>
            </table>
          </>
        )}
      {stopped && (
        <div className="notice warn" role="status">
          Stopped: {stopped.map((s) => `${s.node}: ${!s.reachable ? `did not answer${s.error ? ` (${s.error.message})` : ''}` : s.stopped.length ? s.stopped.join(', ') : 'nothing was running'}`).join(' · ')}
        </div>
      )}
      {servicesTask && <TaskProgress taskId={servicesTask} label="services deploy" />}
      <InlineError error={actionError} />
      {confirmStop && (
        <Dialog title="Stop the node services on every node?" onClose={() => setConfirmStop(false)}
          footer={<>
            <button className="btn" onClick={() => setConfirmStop(false)}>Cancel</button>
            <button className="btn danger" onClick={() => { setConfirmStop(false); void stopServices(); }}>Stop services</button>
          </>}>
          <p>DHCP, DNS, time, the gateway address and the VC shared storage stop on every node that answers. Running VMs keep running but lose these until the services are deployed again.</p>
        </Dialog>
      )}
    </section>
  );
}
