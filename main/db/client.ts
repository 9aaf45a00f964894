import { hostname } from 'node:os';
import pg from 'pg';
import { VlxError } from '../errors.js';
import type { ClusterConfig, DbEndpoint } from '../config/clusters.js';
import { pinnedTls, tlsRefusal, type DbTarget } from './tls.js';

export type Row = Record<string, any>;

export interface Queryable {
  query<R extends Row = Row>(text: string, params?: unknown[]): Promise<pg.QueryResult<R>>;
}

export interface LockOptions {
  /** Wait for the lock instead of failing fast (migrations: the second workstation waits, then finds nothing to do). */
  wait?: boolean;
}

export interface Db extends Queryable {
  /** Where this Db points, without the password. */
  readonly where: string;
  tx<T>(fn: (q: Queryable) => Promise<T>): Promise<T>;
  /**
   * Run fn while holding a session advisory lock on a dedicated connection. Busy → VlxError
   * 'conflict' naming the holder. The lock is always released, and PostgreSQL releases it by
   * itself if this process dies, which is what lets a later run tell a dead task from a live one.
   */
  withAdvisoryLock<T>(key: string, fn: (client: Queryable) => Promise<T>, opts?: LockOptions): Promise<T>;
  /** Is anyone (any workstation) holding this advisory lock right now? */
  isLocked(key: string): Promise<boolean>;
  /** LISTEN on a channel on a dedicated connection; the returned function stops listening. */
  listen(channel: string, onPayload: (payload: string) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

/** Who we are, as shown in pg_stat_activity and in tasks.host. */
export function processLabel(): string {
  return `${hostname()} pid ${process.pid}`;
}

// Every app lock lives in one namespace (the two-int form of the advisory lock functions)
// so it cannot collide with advisory locks taken by anything else on the server.
const LOCK_NS = 0x766c78; // 'vlx'
const LOCK_ARGS = `${LOCK_NS}, hashtext($1)`;

/** SQL true when some session holds the app advisory lock named by the SQL expression keyExpr. */
export function lockHeldSql(keyExpr: string): string {
  return `exists (select 1 from pg_locks l where l.locktype = 'advisory' and l.classid = ${LOCK_NS}::oid
    and l.objid = hashtext(${keyExpr})::oid and l.objsubid = 2 and l.granted)`;
}

const UNREACHABLE = new Set(['ECONNREFUSED', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'ECONNRESET', 'EAI_AGAIN']);

/** pg's errors → VlxError with a code a caller (and an exit code) can act on. */
export function mapPgError(e: unknown, where: string, target?: DbTarget): VlxError {
  if (e instanceof VlxError) return e;
  const refused = target && tlsRefusal(e, target);
  if (refused) return refused;
  const err = e as { code?: string; message?: string; constraint?: string; detail?: string };
  const msg = err?.message ?? String(e);
  if (err?.code && UNREACHABLE.has(err.code)) {
    return new VlxError('unreachable', `database ${where} is not reachable: ${msg}`, 'check `vlx db status`; deploy it with `vlx db deploy --node NODE`');
  }
  // pg's own wording when the server vanished or never answered (no errno to go by)
  if ((/timeout/i.test(msg) && /connect/i.test(msg)) || /Connection terminated|timeout expired/i.test(msg)) {
    return new VlxError('unreachable', `database ${where} did not answer: ${msg}`, 'check `vlx db status`');
  }
  if (err?.code === '28P01' || err?.code === '28000') {
    return new VlxError('auth-failed', `database ${where} refused our credentials: ${msg}`, 're-run `vlx db deploy --node NODE` to reset the password');
  }
  const details = { pgCode: err?.code, constraint: err?.constraint, detail: err?.detail };
  // unique / exclusion violations: the thing already exists or overlaps
  if (err?.code === '23505' || err?.code === '23P01') {
    return new VlxError('conflict', `${msg}${err.detail ? ` (${err.detail})` : ''}`, undefined, details);
  }
  if (err?.code?.startsWith('23')) return new VlxError('invalid-input', `${msg}${err.detail ? ` (${err.detail})` : ''}`, undefined, details);
  // undefined table / column: a database older than this app (a new migration not yet applied)
  if (err?.code === '42P01' || err?.code === '42703') {
    return new VlxError('db', `database ${where}: ${msg}`, 'its schema may be older than this app: run `vlx db migrate`', details);
  }
  return new VlxError('db', `database ${where}: ${msg}`, undefined, details);
}

function wrap(q: { query: (t: string, p?: unknown[]) => Promise<pg.QueryResult<any>> }, where: string, target: DbTarget): Queryable {
  return {
    async query<R extends Row = Row>(text: string, params?: unknown[]) {
      try {
        return (await q.query(text, params)) as pg.QueryResult<R>;
      } catch (e) {
        throw mapPgError(e, where, target);
      }
    },
  };
}

export interface OpenOptions {
  /** Connections kept in the pool (each advisory lock and LISTEN takes one more, outside it). */
  max?: number;
  connectTimeoutMs?: number;
  /** The cluster the endpoint belongs to, named in a refused certificate's message. */
  cluster?: string;
}

/**
 * Every connection is TLS to the pinned certificate (see tls.ts); an endpoint without a pin
 * is refused before any connection is made.
 */
export function openDb(endpoint: DbEndpoint, opts: OpenOptions = {}): Db {
  const where = `${endpoint.user}@${endpoint.host}:${endpoint.port}/${endpoint.database}`;
  const target: DbTarget = { node: endpoint.node, host: endpoint.host, port: endpoint.port, ...(opts.cluster ? { cluster: opts.cluster } : {}) };
  const config: pg.ClientConfig = {
    ssl: pinnedTls(endpoint, target),
    host: endpoint.host,
    port: endpoint.port,
    database: endpoint.database,
    user: endpoint.user,
    password: endpoint.password,
    application_name: `vlx ${processLabel()}`,
    connectionTimeoutMillis: opts.connectTimeoutMs ?? 5000,
    // A workstation that vanishes without closing its socket must not hold VC locks forever.
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
  };
  const pool = new pg.Pool({ ...config, max: opts.max ?? 4, idleTimeoutMillis: 30_000 });
  // An idle pooled client whose server went away emits 'error'; without a listener that kills the process.
  pool.on('error', () => {});
  const pooled = wrap(pool, where, target);

  async function dedicated(): Promise<pg.Client> {
    const c = new pg.Client(config);
    c.on('error', () => {});
    try {
      await c.connect();
    } catch (e) {
      await c.end().catch(() => {});
      throw mapPgError(e, where, target);
    }
    return c;
  }

  async function holder(key: string): Promise<string> {
    const task = await pooled.query<{ id: string; kind: string; target: string; host: string }>(
      `select id, kind, target, host from tasks where lock_key = $1 and state = 'running' order by started_at desc limit 1`,
      [key],
    ).catch(() => ({ rows: [] as { id: string; kind: string; target: string; host: string }[] }));
    const t = task.rows[0];
    if (t) return `task ${t.id} (${t.kind} ${t.target}) on ${t.host}`;
    const who = await pooled.query<{ app: string; addr: string | null }>(
      `select a.application_name as app, host(a.client_addr) as addr from pg_locks l join pg_stat_activity a on a.pid = l.pid
        where l.locktype = 'advisory' and l.classid = ${LOCK_NS}::oid and l.objid = hashtext($1)::oid and l.objsubid = 2 and l.granted limit 1`,
      [key],
    ).catch(() => ({ rows: [] as { app: string; addr: string | null }[] }));
    const w = who.rows[0];
    return w ? `${w.app || 'another session'}${w.addr ? ` from ${w.addr}` : ''}` : 'another session';
  }

  return {
    where,
    query: pooled.query,
    async tx(fn) {
      let client: pg.PoolClient;
      try {
        client = await pool.connect();
      } catch (e) {
        throw mapPgError(e, where, target);
      }
      try {
        await client.query('begin');
        const out = await fn(wrap(client, where, target));
        await client.query('commit');
        return out;
      } catch (e) {
        await client.query('rollback').catch(() => {});
        throw mapPgError(e, where, target);
      } finally {
        client.release();
      }
    },
    async withAdvisoryLock(key, fn, lockOpts = {}) {
      const c = await dedicated();
      const q = wrap(c, where, target);
      try {
        if (lockOpts.wait) {
          await q.query(`select pg_advisory_lock(${LOCK_ARGS})`, [key]);
        } else {
          const r = await q.query<{ ok: boolean }>(`select pg_try_advisory_lock(${LOCK_ARGS}) as ok`, [key]);
          if (!r.rows[0].ok) {
            throw new VlxError('conflict', `"${key}" is locked by ${await holder(key)}`,
              'wait for it to finish, or cancel it with `vlx tasks cancel ID`', { lockKey: key });
          }
        }
        try {
          return await fn(q);
        } finally {
          await q.query(`select pg_advisory_unlock(${LOCK_ARGS})`, [key]).catch(() => {});
        }
      } finally {
        // Closing the session would release the lock anyway; end() makes that certain.
        await c.end().catch(() => {});
      }
    },
    async isLocked(key) {
      const r = await pooled.query<{ held: boolean }>(`select ${lockHeldSql('$1')} as held`, [key]);
      return r.rows[0].held;
    },
    async listen(channel, onPayload) {
      if (!/^[a-z_][a-z0-9_]*$/.test(channel)) throw new VlxError('invalid-input', `channel: must be a lowercase identifier (got ${JSON.stringify(channel)})`);
      const c = await dedicated();
      c.on('notification', (n) => {
        if (n.channel === channel) onPayload(n.payload ?? '');
      });
      await wrap(c, where, target).query(`listen ${channel}`);
      return async () => {
        await c.end().catch(() => {});
      };
    },
    async close() {
      await pool.end().catch(() => {});
    },
  };
}

/** The current cluster's database, from the app's config. */
export function openClusterDb(cluster: ClusterConfig, opts?: OpenOptions): Db {
  if (!cluster.db) {
    throw new VlxError('not-found', `cluster "${cluster.name}" has no database yet`, 'deploy it with `vlx db deploy --node NODE`');
  }
  return openDb(cluster.db, { cluster: cluster.name, ...opts });
}
