import { request } from 'node:https';
import { ETCD_CLIENT_PORT, PATRONI_PORT, type HaMember } from './haConfig.js';

/**
 * The database members as their own daemons see them: Patroni's REST API (GET /patroni,
 * read-only) and etcd's v3 JSON gateway (maintenance/status), both HTTPS asking for a client
 * certificate of the cluster CA. Asked directly from the workstation, in parallel, with short
 * timeouts: a crashed node is a row that says so, never a status call that hangs. The parsers
 * are pure and tested on recorded answers.
 */

/**
 * What this workstation shows the members and trusts from them: the cluster CA (pinned at
 * deploy, read over the host-key-checked SSH link, the only CA trusted here) and a client
 * certificate it signed. Undefined for a config written before the members had TLS.
 */
export interface HaClientTls {
  ca: string;
  cert: string;
  key: string;
}

const NO_CLIENT_CERT = 'this workstation holds no certificate of the cluster CA: run `vlx db deploy --nodes MEMBERS`';

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

/**
 * One JSON request over HTTPS: the server must hold a certificate of the cluster CA for the
 * address asked (Node checks the IP against the certificate's names), never anything less.
 */
export function getJson(host: string, port: number, path: string, tls: HaClientTls | undefined, timeoutMs: number, body?: unknown): Promise<unknown> {
  if (!tls) return Promise.reject(new Error(NO_CLIENT_CERT));
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request({
      host, port, path, method: payload === undefined ? 'GET' : 'POST', agent: false,
      ca: tls.ca, cert: tls.cert, key: tls.key, rejectUnauthorized: true,
      headers: payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        clearTimeout(timer);
        // Patroni's answers carry JSON whatever their status code.
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        } catch {
          reject(new Error(`HTTP ${res.statusCode}: not JSON`));
        }
      });
    });
    const timer = setTimeout(() => req.destroy(Object.assign(new Error('no answer'), { name: 'TimeoutError' })), timeoutMs);
    req.on('error', (e) => { clearTimeout(timer); reject(e); });
    req.end(payload);
  });
}

// Node's codes for a server whose certificate the cluster CA did not sign (or that is no TLS server).
const NOT_OURS = new Set(['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_SIGNATURE_FAILURE', 'ERR_TLS_CERT_ALTNAME_INVALID', 'ERR_SSL_WRONG_VERSION_NUMBER']);

export function errorText(e: unknown): string {
  const err = e as { name?: string; code?: string; message?: string };
  if (err?.name === 'TimeoutError') return 'no answer';
  if (err?.code && NOT_OURS.has(err.code)) return `TLS: not a certificate of the cluster CA (${err.code})`;
  return err?.code ?? err?.message ?? String(e);
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

export async function memberStatuses(members: readonly HaMember[], tls: HaClientTls | undefined, timeoutMs = 1500): Promise<MemberStatus[]> {
  const answers = await Promise.all(members.map(async (m) => {
    try {
      return (await getJson(m.address, PATRONI_PORT, '/patroni', tls, timeoutMs)) as PatroniAnswer;
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

export async function etcdHealth(members: readonly HaMember[], tls: HaClientTls | undefined, timeoutMs = 1500): Promise<EtcdHealth> {
  const answers = await Promise.all(members.map(async (m) => {
    try {
      return (await getJson(m.address, ETCD_CLIENT_PORT, '/v3/maintenance/status', tls, timeoutMs, {})) as EtcdStatusAnswer;
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
export async function recordedSyncStandby(members: readonly HaMember[], tls: HaClientTls | undefined, timeoutMs = 1500): Promise<string | undefined> {
  for (const m of members) {
    try {
      const c = (await getJson(m.address, PATRONI_PORT, '/cluster', tls, timeoutMs)) as { members?: { name?: string; role?: string }[] };
      return c.members?.find((x) => x.role === 'sync_standby')?.name;
    } catch {
      // next member
    }
  }
  return undefined;
}
