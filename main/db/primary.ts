import pg from 'pg';
import { VlxError } from '../errors.js';
import type { DbEndpoint } from '../config/clusters.js';
import { pinnedTls, tlsRefusal, type DbTarget } from './tls.js';

/**
 * Which member takes writes now: every member is asked in parallel, over the same pinned TLS
 * as the app's own connections, `select pg_is_in_recovery()`. The first that says false is
 * the primary; dead members cost nothing once it answered. Patroni keeps at most one member
 * writable (a primary that loses the leader key demotes itself), so the answer is the one.
 */

export interface MemberProbe {
  node: string;
  host: string;
  /** primary: writable; standby: read-only; else why it could not be asked. */
  state: 'primary' | 'standby' | 'unreachable' | 'refused';
  detail?: string;
  error?: VlxError;
}

export interface FindOptions {
  cluster?: string;
  /** Keep asking this long for a primary (a failover in progress); 0: one round. */
  waitMs?: number;
  connectTimeoutMs?: number;
}

export function membersOf(ep: DbEndpoint): { node: string; host: string }[] {
  return ep.members && ep.members.length > 0 ? ep.members : [{ node: ep.node, host: ep.host }];
}

/** Ask one member whether it is writable. Never throws. */
export async function probeMember(ep: DbEndpoint, m: { node: string; host: string }, opts: FindOptions = {}): Promise<MemberProbe> {
  const target: DbTarget = { node: m.node, host: m.host, port: ep.port, ...(opts.cluster ? { cluster: opts.cluster } : {}) };
  let c: pg.Client | undefined;
  try {
    c = new pg.Client({
      ssl: pinnedTls(ep, target), host: m.host, port: ep.port, database: ep.database, user: ep.user, password: ep.password,
      connectionTimeoutMillis: opts.connectTimeoutMs ?? 2000, query_timeout: 3000, application_name: 'vlx probe',
    });
    c.on('error', () => {});
    await c.connect();
    const r = await c.query<{ r: boolean }>('select pg_is_in_recovery() as r');
    return { ...m, state: r.rows[0]!.r ? 'standby' : 'primary' };
  } catch (e) {
    const refused = e instanceof VlxError ? e : tlsRefusal(e, target);
    const err = e as { code?: string; message?: string };
    if (refused) return { ...m, state: 'refused', detail: refused.message, error: refused };
    if (err?.code === '28P01' || err?.code === '28000') {
      return { ...m, state: 'refused', detail: err.message, error: new VlxError('auth-failed', `database member ${m.node} refused our credentials: ${err.message}`, 're-run `vlx db deploy` to reset the password') };
    }
    // starting up, shutting down, in recovery without hot standby yet: a failover in progress
    return { ...m, state: 'unreachable', detail: err?.code && !/^\d/.test(err.code) ? `${err.code}` : (err?.message ?? String(e)) };
  } finally {
    c?.end().catch(() => {});
  }
}

/** "n1 10.77.0.1: standby (read-only); n2 10.77.0.2: unreachable (ETIMEDOUT)" */
export function describeProbes(ps: MemberProbe[]): string {
  return ps.map((p) => `${p.node} ${p.host}: ${p.state === 'standby' ? 'standby (read-only)' : p.state}${p.detail ? ` (${p.detail})` : ''}`).join('; ');
}

/**
 * Asks every member until one says it is writable or the deadline has passed (every member
 * answered at least once). Each member is asked again 300 ms after its own last answer: a dead
 * node, whose unanswered connect costs the whole connect timeout, holds up no other member's
 * next question, so a standby promoted meanwhile is found within 300 ms, not after the dead
 * one's timeout (up to 2.3 s later, measured after a crash).
 */
function poll(ep: DbEndpoint, opts: FindOptions, deadline: number): Promise<{ primary?: MemberProbe; all: MemberProbe[] }> {
  const members = membersOf(ep);
  return new Promise((resolve) => {
    const all: MemberProbe[] = new Array(members.length);
    let settled = false;
    let done = 0;
    const settle = (r: { primary?: MemberProbe; all: MemberProbe[] }) => {
      if (!settled) resolve(r);
      settled = true;
    };
    members.forEach((m, i) => {
      void (async () => {
        for (;;) {
          const p = await probeMember(ep, m, opts);
          if (settled) return;
          all[i] = p;
          if (p.state === 'primary') return settle({ primary: p, all });
          // The pinned certificate or our password refused everywhere: waiting will not change it.
          if (all.filter((x) => x?.state === 'refused').length === members.length) return settle({ all });
          if (Date.now() >= deadline) {
            done += 1;
            if (done === members.length) settle({ all });
            return;
          }
          await new Promise((res) => setTimeout(res, Math.min(300, Math.max(0, deadline - Date.now()))));
        }
      })();
    });
  });
}

export async function findPrimary(ep: DbEndpoint, opts: FindOptions = {}): Promise<MemberProbe> {
  const waitMs = opts.waitMs ?? 0;
  const r = await poll(ep, opts, Date.now() + waitMs);
  if (r.primary) return r.primary;
  const refused = r.all.filter((p) => p.state === 'refused');
  if (refused.length === r.all.length) throw refused[0]!.error!;
  const members = membersOf(ep);
  const standbys = r.all.filter((p) => p.state === 'standby').length;
  throw new VlxError('unreachable',
    `no writable database member${waitMs ? ` for ${Math.round(waitMs / 1000)} s` : ''}: ${describeProbes(r.all)}`,
    members.length === 1 ? 'check `vlx db status`; deploy it with `vlx db deploy --nodes NODES`'
      : standbys > 0 ? 'every live member is a read-only standby: Patroni keeps no primary without the etcd quorum (see `vlx db status`); it promotes one by itself once a majority of etcd members is back'
        : 'Patroni promotes a standby within about 10 s of losing the primary; if none is left, revive a member node (see `vlx db status`)',
    { members: r.all.map((p) => ({ node: p.node, state: p.state })) });
}
