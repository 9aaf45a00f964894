import { ETCD_CLIENT_PORT, PATRONI_PORT, type HaMember } from './haConfig.js';

/**
 * The database members as their own daemons see them: Patroni's REST API (GET /patroni,
 * plain HTTP, read-only) and etcd's v3 JSON gateway (maintenance/status). Asked directly from
 * the workstation, in parallel, with short timeouts: a crashed node is a row that says so,
 * never a status call that hangs. The parsers are pure and tested on recorded answers.
 */

export type MemberRole = 'primary' | 'sync_standby' | 'standby' | 'other' | 'unreachable';

export interface MemberStatus {
  node: string;
  host: string;
  role: MemberRole;
  /** Patroni's words: running, streaming, starting, stopped, … (or the error when unreachable). */
  state: string;
  /** Patroni's own role name when it is not one of ours (demoted, uninitialized, …). */
  patroniRole?: string;
  timeline?: number;
  /** Bytes of WAL a standby has not replayed yet, measured against the primary's position. */
  lagBytes?: number;
}

export interface EtcdMemberStatus {
  node: string;
  host: string;
  healthy: boolean;
  leader: boolean;
  error?: string;
}

export interface EtcdHealth {
  members: EtcdMemberStatus[];
  leader?: string;
  /** A majority of the etcd members answer and agree on a leader: Patroni can keep or take the leader key. */
  quorum: boolean;
}

interface PatroniAnswer {
  state?: string;
  role?: string;
  timeline?: number;
  xlog?: { location?: number; received_location?: number; replayed_location?: number };
  replication?: { application_name?: string; sync_state?: string }[];
}

async function getJson(url: string, timeoutMs: number, body?: unknown): Promise<unknown> {
  const r = await fetch(url, {
    method: body === undefined ? 'GET' : 'POST',
    signal: AbortSignal.timeout(timeoutMs),
    ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  });
  // Patroni answers /patroni with 200 on a primary and 200 on a replica; other codes still carry JSON.
  return r.json();
}

function errorText(e: unknown): string {
  const err = e as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (err?.name === 'TimeoutError') return 'no answer';
  return err?.cause?.code ?? err?.cause?.message ?? err?.message ?? String(e);
}

/** One member's /patroni answer (or the error) → raw facts; roles are settled across members in summarise. */
export function summariseMembers(members: readonly HaMember[], answers: (PatroniAnswer | Error)[]): MemberStatus[] {
  const primaryIdx = answers.findIndex((a) => !(a instanceof Error) && (a.role === 'master' || a.role === 'primary') && a.state === 'running');
  const primary = primaryIdx >= 0 ? (answers[primaryIdx] as PatroniAnswer) : undefined;
  const sync = new Set((primary?.replication ?? []).filter((r) => r.sync_state === 'sync' || r.sync_state === 'quorum').map((r) => r.application_name));
  return members.map((m, i) => {
    const a = answers[i]!;
    if (a instanceof Error) return { node: m.node, host: m.address, role: 'unreachable', state: a.message };
    const base = { node: m.node, host: m.address, state: a.state ?? 'unknown', ...(typeof a.timeline === 'number' ? { timeline: a.timeline } : {}) };
    if (a.role === 'master' || a.role === 'primary') return { ...base, role: a.state === 'running' ? 'primary' : 'other', ...(a.state === 'running' ? {} : { patroniRole: a.role }) };
    if (a.role === 'replica') {
      const at = a.xlog?.replayed_location ?? a.xlog?.received_location;
      const lag = primary?.xlog?.location !== undefined && at !== undefined ? Math.max(0, primary.xlog.location - at) : undefined;
      return { ...base, role: sync.has(m.node) ? 'sync_standby' : 'standby', ...(lag !== undefined ? { lagBytes: lag } : {}) };
    }
    return { ...base, role: 'other', patroniRole: a.role ?? 'unknown' };
  });
}

export async function memberStatuses(members: readonly HaMember[], timeoutMs = 1500): Promise<MemberStatus[]> {
  const answers = await Promise.all(members.map(async (m) => {
    try {
      return (await getJson(`http://${m.address}:${PATRONI_PORT}/patroni`, timeoutMs)) as PatroniAnswer;
    } catch (e) {
      return new Error(errorText(e));
    }
  }));
  return summariseMembers(members, answers);
}

interface EtcdStatusAnswer {
  header?: { member_id?: string };
  leader?: string;
}

/** etcd's status answers → who leads and whether a majority agrees on it. Pure. */
export function summariseEtcd(members: readonly HaMember[], answers: (EtcdStatusAnswer | Error)[]): EtcdHealth {
  const ids = answers.map((a) => (a instanceof Error ? undefined : a.header?.member_id));
  const leaders = answers.map((a) => (a instanceof Error || !a.leader || a.leader === '0' ? undefined : a.leader));
  const counts = new Map<string, number>();
  for (const l of leaders) if (l) counts.set(l, (counts.get(l) ?? 0) + 1);
  const [agreed, votes] = [...counts.entries()].sort((a, b) => b[1] - a[1])[0] ?? [undefined, 0];
  const leaderIdx = agreed ? ids.indexOf(agreed) : -1;
  const quorum = agreed !== undefined && votes > members.length / 2;
  return {
    members: members.map((m, i) => {
      const a = answers[i]!;
      return a instanceof Error
        ? { node: m.node, host: m.address, healthy: false, leader: false, error: a.message }
        : { node: m.node, host: m.address, healthy: quorum && leaders[i] === agreed, leader: i === leaderIdx };
    }),
    ...(leaderIdx >= 0 ? { leader: members[leaderIdx]!.node } : {}),
    quorum,
  };
}

export async function etcdHealth(members: readonly HaMember[], timeoutMs = 1500): Promise<EtcdHealth> {
  const answers = await Promise.all(members.map(async (m) => {
    try {
      return (await getJson(`http://${m.address}:${ETCD_CLIENT_PORT}/v3/maintenance/status`, timeoutMs, {})) as EtcdStatusAnswer;
    } catch (e) {
      return new Error(errorText(e));
    }
  }));
  return summariseEtcd(members, answers);
}

/**
 * The synchronous standby Patroni has recorded in etcd (GET /cluster): only that member may
 * be promoted. PostgreSQL may already stream synchronously to it a moment before Patroni has
 * written it down; a primary lost in that moment leaves no member allowed to take over.
 */
export async function recordedSyncStandby(members: readonly HaMember[], timeoutMs = 1500): Promise<string | undefined> {
  for (const m of members) {
    try {
      const c = (await getJson(`http://${m.address}:${PATRONI_PORT}/cluster`, timeoutMs)) as { members?: { name?: string; role?: string }[] };
      return c.members?.find((x) => x.role === 'sync_standby')?.name;
    } catch {
      // next member
    }
  }
  return undefined;
}
