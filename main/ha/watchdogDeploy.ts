import { VlxError } from '../errors.js';
import type { DbEndpoint } from '../config/clusters.js';
import type { ClusterSession } from '../ssh/session.types.js';
import { findPrimary, membersOf } from '../db/primary.js';
import { PG_SOCKETS } from '../db/haConfig.js';
import { newDbPassword, scramVerifier } from '../db/scram.js';
import { sh } from '../util/quote.js';
import {
  WATCHDOG_GROUP, renderInstallScript, renderServiceFile, renderWatchdogScript, watchdogPaths, watchdogRole,
} from './watchdogScript.js';

/**
 * Puts the self-fencing watchdog on every node that answers: a login role of its own per node
 * (made by the superuser on the primary, over SSH; only its SCRAM verifier travels in SQL), its
 * connection file root-only on the node, and the watchdog running (kept when nothing changed).
 * A node's existing password is kept, so a re-run changes nothing. Runs after the database
 * deploy (`vlx db deploy`, `vlx lab up`): the role needs migration 005's function.
 */
export interface WatchdogDeployResult {
  node: string;
  action: 'kept' | 'started' | 'restarted' | 'failed' | 'unreachable';
  detail?: string;
}

/** SQL for the superuser: the watchdog group, a login role per node, its right to renew, its node. */
export function watchdogRoleSql(nodes: { node: string; password: string }[], database: string): string {
  const lines = [
    `do $$ begin if not exists (select 1 from pg_roles where rolname = '${WATCHDOG_GROUP}') then create role ${WATCHDOG_GROUP} nologin; end if; end $$;`,
  ];
  for (const n of nodes) {
    const role = watchdogRole(n.node);
    lines.push(
      `do $$ begin if not exists (select 1 from pg_roles where rolname = '${role}') then create role ${role} login; end if; end $$;`,
      `grant ${WATCHDOG_GROUP} to ${role};`,
      `alter role ${role} login nosuperuser nocreatedb nocreaterole password '${scramVerifier(n.password)}';`,
    );
  }
  lines.push(
    `\\connect ${database}`,
    `grant execute on function vlx_watchdog_renew(boolean, integer) to ${WATCHDOG_GROUP};`,
    ...nodes.map((n) => `insert into watchdog_roles (role, node) values ('${watchdogRole(n.node)}', '${n.node}') on conflict (role) do update set node = excluded.node;`),
    '',
  );
  return lines.join('\n');
}

/** The superuser's psql on the node (the newest PostgreSQL installed there). */
const PSQL = `bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1); runuser -u postgres -- "$bin/psql" -h ${PG_SOCKETS} -p "$1" -d postgres -v ON_ERROR_STOP=1 -Atq -f -`;

export async function deployWatchdogs(session: ClusterSession, endpoint: DbEndpoint, report: (note: string) => void = () => {}): Promise<WatchdogDeployResult[]> {
  if (!endpoint.tlsCert) throw new VlxError('host-key-unknown', 'the database has no pinned TLS certificate: deploy it first');
  const nodes = session.nodes();
  // Each node's password as it has it: kept across re-runs.
  const read = await session.onNodes('all', `sed -n 's/^password=//p' ${sh(watchdogPaths.service)} 2>/dev/null; true`, { timeoutMs: 10_000 });
  const live = read.filter((r) => !r.error && r.code === 0);
  const creds = live.map((r) => ({ node: r.node, password: /^[A-Za-z0-9_-]{16,}$/.test(r.stdout.trim()) ? r.stdout.trim() : newDbPassword() }));
  const out: WatchdogDeployResult[] = read.filter((r) => r.error || r.code !== 0).map((r) => ({ node: r.node, action: 'unreachable' as const, detail: r.error?.message ?? r.stderr.trim() }));
  if (creds.length === 0) return out;

  const primary = await findPrimary(endpoint, { waitMs: 30_000 });
  const conn = await session.node(primary.node);
  await conn.run(`sh -c ${sh(PSQL)} psql ${endpoint.port}`, { stdin: watchdogRoleSql(creds, endpoint.database), timeoutMs: 30_000 });
  report(`watchdog roles for ${creds.map((c) => c.node).join(', ')} on the primary ${primary.node}`);

  const hosts = membersOf(endpoint).map((m) => m.host);
  const results = await Promise.all(creds.map(async (c): Promise<WatchdogDeployResult> => {
    const script = renderInstallScript({
      script: renderWatchdogScript(c.node),
      service: renderServiceFile({ node: c.node, hosts, port: endpoint.port, database: endpoint.database, password: c.password }),
      cert: endpoint.tlsCert!,
    });
    const [r] = await session.onNodes([c.node], 'sh -s', { stdin: script, timeoutMs: 20_000 });
    const m = /^watchdog (kept|started|restarted) (\d+)/m.exec(r!.stdout);
    if (!m) return { node: c.node, action: 'failed', detail: (r!.error?.message ?? `${r!.stdout} ${r!.stderr}`).trim() };
    return { node: c.node, action: m[1] as 'kept' | 'started' | 'restarted', detail: `pid ${m[2]}` };
  }));
  report(`watchdogs: ${results.map((r) => `${r.node} ${r.action}`).join(', ')}`);
  return [...out, ...results].sort((a, b) => nodes.findIndex((n) => n.name === a.node) - nodes.findIndex((n) => n.name === b.node));
}

/** A node powered on again (lab revive): its watchdog starts from the files it has. */
export async function startWatchdog(session: ClusterSession, node: string): Promise<string> {
  const [r] = await session.onNodes([node], 'sh -s', { stdin: renderInstallScript(), timeoutMs: 20_000 });
  return (r!.stdout.trim() || r!.stderr.trim() || r!.error?.message) ?? '';
}
