import type { Db } from '../db/client.js';
import { processLabel } from '../db/client.js';
import type { ClusterSession, NodeExecResult } from '../ssh/session.types.js';
import { NODE_RUN } from '../domain/nodePaths.js';
import { quote } from '../util/quote.js';
import { decideHealth, type Health, type HealthState, type Probe } from './state.js';
import { LEASE_S, MARGIN_S, PROBE_TIMEOUT_MS, TICK_MS, readHealthRows, renewLeases, storeHealth, type NodeHealthRow } from './lease.js';

export interface NodeHealthView extends Health {
  name: string;
  admin: NodeHealthRow['admin'];
  reachable: boolean;
  /** the probe's round trip over the pooled connection */
  latencyMs?: number;
  probeError?: string;
  /** seconds the lease has left (negative: expired that long ago) */
  leaseLeftS?: number;
  renewedBy?: string;
  since?: string;
  evacuation?: NodeHealthRow['evacuation'];
}

/**
 * The probe renews nothing by itself: it proves the node answers, and hands the node the
 * lease deadline last granted, in its runtime directory, so a watchdog on the node (HA
 * restart) can fence itself when that deadline passes without a newer one.
 */
export const LEASE_FILE = `${NODE_RUN}/lease`;

export function probeCommand(leaseUntilS: number | null, file = LEASE_FILE): string {
  const dir = file.slice(0, file.lastIndexOf('/')) || '/';
  const write = leaseUntilS === null ? '' : `; mkdir -p ${quote(dir)} && printf '%s\\n' ${quote(String(leaseUntilS))} > ${quote(file)}`;
  return `cat /proc/sys/kernel/random/boot_id${write}`;
}

async function probeAll(session: ClusterSession, leases: Map<string, number | null>, leaseFile: string): Promise<Map<string, NodeExecResult>> {
  const out = new Map<string, NodeExecResult>();
  await Promise.all(session.nodes().map(async (n) => {
    const lease = leases.get(n.name);
    const started = performance.now();
    const timedOut: NodeExecResult = { node: n.name, address: n.address, code: -1, stdout: '', stderr: '', ms: PROBE_TIMEOUT_MS, error: { code: 'timeout', message: `no answer within ${PROBE_TIMEOUT_MS} ms` } };
    let timer: NodeJS.Timeout | undefined;
    const r = await Promise.race([
      session.onNodes([n.name], probeCommand(lease === undefined || lease === null ? null : Math.floor(lease / 1000), leaseFile), { timeoutMs: PROBE_TIMEOUT_MS }).then((x) => x[0]!),
      new Promise<NodeExecResult>((ok) => { timer = setTimeout(() => ok(timedOut), PROBE_TIMEOUT_MS); }),
    ]);
    clearTimeout(timer);
    out.set(n.name, { ...r, ms: r.error ? r.ms : performance.now() - started });
  }));
  return out;
}

/**
 * One tick of the health loop: probe every node, renew the leases of those that answered,
 * judge each node on the DB's clock, store what changed (the nodes trigger tells every
 * other workstation). Returns this process's view.
 */
export async function healthTick(session: ClusterSession, db: Db, last: Map<string, NodeHealthView>, leaseFile = LEASE_FILE): Promise<{ views: NodeHealthView[]; changed: boolean }> {
  const leases = new Map([...last.values()].map((v) => [v.name, v.leaseLeftS === undefined ? null : Date.now() + v.leaseLeftS * 1000]));
  const probes = await probeAll(session, leases, leaseFile);
  const ok = [...probes.values()].filter((p) => !p.error && p.code === 0).map((p) => p.node);
  await renewLeases(db, ok, processLabel());
  const { now, rows } = await readHealthRows(db);
  const byName = new Map(rows.map((r) => [r.name, r]));
  let changed = false;
  const views: NodeHealthView[] = [];
  for (const n of session.nodes()) {
    const p = probes.get(n.name);
    const row = byName.get(n.name);
    const probe: Probe = !p ? 'unknown' : !p.error && p.code === 0 ? 'ok' : 'failed';
    const h = decideHealth({ admin: row?.admin ?? 'active', probe, leaseUntil: row?.leaseUntil ?? null, fenced: row?.fenced ?? false, now, marginMs: MARGIN_S * 1000 });
    if (row && (await storeHealth(db, n.name, h.state))) changed = true;
    if (last.get(n.name)?.state !== h.state) changed = true;
    views.push({
      name: n.name, ...h, admin: row?.admin ?? 'active', reachable: probe === 'ok',
      ...(p ? { latencyMs: Math.round(p.ms) } : {}),
      ...(p?.error ? { probeError: p.error.message } : p && p.code !== 0 ? { probeError: `probe exited with ${p.code}` } : {}),
      ...(row?.leaseUntil != null ? { leaseLeftS: Math.round((row.leaseUntil - now) / 100) / 10 } : {}),
      ...(row?.renewedBy ? { renewedBy: row.renewedBy } : {}),
      ...(row?.healthSince != null && row.health === h.state ? { since: new Date(row.healthSince).toISOString() } : {}),
      ...(row && Object.keys(row.evacuation).length > 0 ? { evacuation: row.evacuation } : {}),
    });
  }
  return { views, changed };
}

/** Runs ticks one after another (never overlapping) while `keep()` says someone listens. */
export class HealthLoop {
  private readonly views = new Map<string, NodeHealthView>();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = true;
  lastError: string | undefined;

  constructor(
    private readonly session: ClusterSession,
    private readonly db: () => Promise<Db>,
    private readonly onChange: (views: NodeHealthView[]) => void,
    private readonly keep: () => boolean,
    /** where the node finds its lease deadline (a test points it elsewhere) */
    private readonly leaseFile = LEASE_FILE,
    /**
     * Told after every tick which nodes are confirmed down and which are up (HA restart,
     * main/ha/restarter.ts); not awaited, so a restart never holds the loop up.
     */
    private readonly onDown?: (down: string[], up: string[]) => void,
  ) {}

  get active(): boolean { return !this.stopped; }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule(0);
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /** The latest view, after running a tick now if none has run yet. */
  async current(): Promise<NodeHealthView[]> {
    if (this.views.size === 0) await this.tick();
    return [...this.views.values()];
  }

  stateOf(node: string): HealthState | undefined {
    return this.views.get(node)?.state;
  }

  tick(): Promise<void> {
    this.running ??= (async () => {
      try {
        const { views, changed } = await healthTick(this.session, await this.db(), this.views, this.leaseFile);
        this.views.clear();
        for (const v of views) this.views.set(v.name, v);
        this.lastError = undefined;
        if (changed) this.onChange(views);
        const down = views.filter((v) => v.state === 'down' && v.confirmedDown).map((v) => v.name);
        if (down.length > 0) this.onDown?.(down, views.filter((v) => v.state === 'up').map((v) => v.name));
      } catch (e) {
        // The DB unreachable (a failover under way): keep the last view, try again next tick.
        this.lastError = e instanceof Error ? e.message : String(e);
      }
    })().finally(() => { this.running = undefined; });
    return this.running;
  }

  private schedule(ms: number): void {
    this.timer = setTimeout(() => {
      if (this.stopped) return;
      if (!this.keep()) { this.stop(); return; }
      void this.tick().finally(() => { if (!this.stopped) this.schedule(TICK_MS); });
    }, ms);
    this.timer.unref?.();
  }
}

export { LEASE_S, MARGIN_S, TICK_MS };
