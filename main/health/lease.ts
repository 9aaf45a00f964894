import type { Queryable } from '../db/client.js';
import type { AdminState, HealthState } from './state.js';

/**
 * The lease each node holds (table node_leases, migration 003). Today the app renews it on
 * behalf of every node that answers its SSH probe: nodes hold no database credentials (only a
 * workstation's SCRAM verifier reaches a node), and a probe over the pooled connection costs
 * nothing extra. A node-side watchdog (HA restart) renews through the same
 * `vlx_renew_leases` with `renewed_by` naming itself; leases only ever grow, so both may run.
 *
 * Timing: renewed every tick (1.5 s) for LEASE_S; a node is down LEASE_S + MARGIN_S after the
 * last renewal at most, so a crash is confirmed within ~20 s, and the node's watchdog, which
 * fences after main/ha/timing.ts's FENCE_S (14 s) without a renewal, has killed its VMs before
 * anything is restarted elsewhere. The lease is longer than a database failover: while Patroni
 * promotes a standby (7.5 s median, 11.5 s seen with a stale etcd watch) no watchdog can
 * renew, and a lease of 10 s made every node holding HA VMs fence itself in that window.
 */
export const LEASE_S = 16;
export const MARGIN_S = 4;
export const TICK_MS = 1500;
/**
 * A probe slower than this counts as no answer (a warm pooled round takes tens of ms, a few
 * hundred with QEMUs loading the 2-core lab). Tick + timeout bound the time to notice a lost
 * node, which a screen must show within 5 s.
 */
export const PROBE_TIMEOUT_MS = 1500;

export interface NodeHealthRow {
  name: string;
  admin: AdminState;
  health: HealthState | 'unknown';
  healthSince: number | null;
  leaseUntil: number | null;
  renewedBy: string | null;
  fenced: boolean;
  evacuation: EvacuationRecord;
}

export interface EvacuationRecord {
  task?: string;
  moved?: { vc: string; vm: string; from: string; to: string; action?: string }[];
  failed?: { vc: string; vm: string; reason: string }[];
}

export async function renewLeases(q: Queryable, names: string[], who: string, seconds = LEASE_S): Promise<void> {
  if (names.length === 0) return;
  await q.query('select vlx_renew_leases($1::text[], $2::int, $3::text)', [names, seconds, who]);
}

/** Every node's row with the DB's clock, so all workstations judge a lease by one clock. */
export async function readHealthRows(q: Queryable): Promise<{ now: number; rows: NodeHealthRow[] }> {
  const r = await q.query<{
    name: string; admin_state: AdminState; health: HealthState | 'unknown'; health_since: Date | null; lease_until: Date | null;
    renewed_by: string | null; fenced_at: Date | null; evacuation: EvacuationRecord; now: Date;
  }>(`select n.name, n.admin_state, n.health, n.health_since, l.lease_until, l.renewed_by, n.fenced_at, n.evacuation, now() as now
        from nodes n left join node_leases l on l.node = n.name order by n.name`);
  const now = r.rows[0]?.now.getTime() ?? (await q.query<{ now: Date }>('select now() as now')).rows[0]!.now.getTime();
  return {
    now,
    rows: r.rows.map((x) => ({
      name: x.name, admin: x.admin_state, health: x.health, healthSince: x.health_since?.getTime() ?? null,
      leaseUntil: x.lease_until?.getTime() ?? null, renewedBy: x.renewed_by, fenced: x.fenced_at !== null, evacuation: x.evacuation ?? {},
    })),
  };
}

/** Store a changed health; the nodes trigger NOTIFYs every workstation. Only a real change writes. */
export async function storeHealth(q: Queryable, name: string, health: HealthState): Promise<boolean> {
  const r = await q.query(`update nodes set health = $2, health_since = now() where name = $1 and health <> $2`, [name, health]);
  return (r.rowCount ?? 0) > 0;
}

export async function setAdminState(q: Queryable, name: string, admin: AdminState, evacuation?: EvacuationRecord): Promise<void> {
  await q.query(
    `update nodes set admin_state = $2, evacuation = coalesce($3::jsonb, evacuation) where name = $1`,
    [name, admin, evacuation === undefined ? null : JSON.stringify(evacuation)],
  );
}
