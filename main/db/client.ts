import { hostname } from 'node:os';
import pg from 'pg';
import { VlxError } from '../errors.js';
import type { ClusterConfig, DbEndpoint } from '../config/clusters.js';
import { pinnedTls, tlsRefusal, type DbTarget } from './tls.js';
import { findPrimary, membersOf } from './primary.js';

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
    return new VlxError('unreachable', `database ${where} is not reachable: ${msg}`, 'check `vlx db status`; deploy it with `vlx db deploy --nodes NODES`');
  }
  // pg's own wording when the server vanished or never answered (no errno to go by)
  if ((/timeout/i.test(msg) && /connect/i.test(msg)) || /Connection terminated|timeout expired|Query read timeout/i.test(msg)) {
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
  /**
   * How long an operation keeps looking for a writable member after its own failed (a
   * failover in progress). Default: 30 s with several members, none with one.
   */
  failoverWaitMs?: number;
}

// What a primary's loss (or demotion) looks like from a client; the operation is retried on
// the next primary. Our writes are idempotent steps, so a retried write is harmless.
const FAILOVER_PG = new Set(['25006', '57P01', '57P02', '57P03', '08000', '08003', '08006', '08001', '08004', '0A000']);
export function isFailoverError(e: unknown): boolean {
  const err = e as { code?: string; message?: string };
  if (err?.code && FAILOVER_PG.has(err.code)) return true;
  if (err?.code && UNREACHABLE.has(err.code)) return true;
  if (e instanceof VlxError && e.code === 'unreachable') return true;
  // errors mapped inside a transaction keep pg's words in their message
  return /Connection terminated|Query read timeout|timeout expired|terminating connection|Client has encountered a connection error|not queryable/i.test(err?.message ?? '');
}

/**
 * Every connection is TLS to the pinned certificate (see tls.ts); an endpoint without a pin
 * is refused before any connection is made. With several members the Db follows the
 * primary: it finds it (primary.ts), and when an operation fails the way a lost primary
 * makes it fail, finds it again and retries, for up to failoverWaitMs.
 */
export function openDb(endpoint: DbEndpoint, opts: OpenOptions = {}): Db {
  const members = membersOf(endpoint);
  const multi = members.length > 1;
  const waitMs = opts.failoverWaitMs ?? (multi ? 30_000 : 0);
  pinnedTls(endpoint, { node: endpoint.node, host: endpoint.host, port: endpoint.port });
  let where = `${endpoint.user}@${endpoint.host}:${endpoint.port}/${endpoint.database}`;

  interface Current { node: string; host: string; pool: pg.Pool; config: pg.ClientConfig; target: DbTarget }
  let current: Current | undefined;
  let finding: Promise<Current> | undefined;
  let closed = false;

  const configFor = (host: string, node: string): { config: pg.ClientConfig; target: DbTarget } => {
    const target: DbTarget = { node, host, port: endpoint.port, ...(opts.cluster ? { cluster: opts.cluster } : {}) };
    return {
      target,
      config: {
        ssl: pinnedTls(endpoint, target),
        host, port: endpoint.port, database: endpoint.database, user: endpoint.user, password: endpoint.password,
        application_name: `vlx ${processLabel()}`,
        connectionTimeoutMillis: opts.connectTimeoutMs ?? (multi ? 3000 : 5000),
        // A workstation that vanishes without closing its socket must not hold VC locks forever.
        keepAlive: true,
        keepAliveInitialDelayMillis: 10_000,
      },
    };
  };

  const open = (node: string, host: string): Current => {
    const { config, target } = configFor(host, node);
    // A primary whose node died answers nothing: without a bound a query would hang on its
    // socket for the kernel's TCP timeout instead of moving to the next primary.
    const pool = new pg.Pool({ ...config, max: opts.max ?? 4, idleTimeoutMillis: 30_000, ...(multi ? { query_timeout: 6000 } : {}) });
    // An idle pooled client whose server went away emits 'error'; without a listener that kills the process.
    pool.on('error', () => {});
    where = `${endpoint.user}@${host}:${endpoint.port}/${endpoint.database}`;
    return { node, host, pool, config, target };
  };

  async function primary(deadline: number): Promise<Current> {
    if (current) return current;
    if (!multi) {
      current = open(endpoint.node, endpoint.host);
      return current;
    }
    finding ??= findPrimary(endpoint, { ...(opts.cluster ? { cluster: opts.cluster } : {}), waitMs: Math.max(0, deadline - Date.now()) })
      .then((p) => (current = open(p.node, p.host)))
      .finally(() => { finding = undefined; });
    return finding;
  }

  function drop(c: Current): void {
    if (current !== c) return;
    current = undefined;
    // not awaited: a client stuck on a dead node's socket must not hold up the next primary
    void c.pool.end().catch(() => {});
  }

  /** Run op against the primary; on a failover-shaped error find the primary again and retry. */
  async function withPrimary<T>(op: (c: Current) => Promise<T>): Promise<T> {
    if (closed) throw new VlxError('internal', `database ${where}: used after close`);
    const deadline = Date.now() + waitMs;
    for (;;) {
      const c = await primary(deadline);
      try {
        return await op(c);
      } catch (e) {
        if (!multi || !isFailoverError(e) || Date.now() >= deadline) throw mapPgError(e, where, c.target);
        drop(c);
      }
    }
  }

  const pooled: Queryable = {
    query: <R extends Row = Row>(text: string, params?: unknown[]) =>
      withPrimary(async (c) => (await c.pool.query(text, params)) as pg.QueryResult<R>),
  };

  async function dedicated(): Promise<{ client: pg.Client; target: DbTarget }> {
    return withPrimary(async (cur) => {
      const client = new pg.Client(cur.config);
      client.on('error', () => {});
      try {
        await client.connect();
      } catch (e) {
        await client.end().catch(() => {});
        throw e;
      }
      return { client, target: cur.target };
    });
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

  async function tryLock(q: Queryable, key: string, wait: boolean): Promise<boolean> {
    if (wait) {
      await q.query(`select pg_advisory_lock(${LOCK_ARGS})`, [key]);
      return true;
    }
    return (await q.query<{ ok: boolean }>(`select pg_try_advisory_lock(${LOCK_ARGS}) as ok`, [key])).rows[0]!.ok;
  }

  return {
    get where() {
      return where;
    },
    query: pooled.query,
    tx: (fn) => withPrimary(async (c) => {
      const client = await c.pool.connect();
      let broken: unknown;
      try {
        await client.query('begin');
        const out = await fn(wrap(client, where, c.target));
        await client.query('commit');
        return out;
      } catch (e) {
        broken = e;
        // A connection a failover broke is dropped, not rolled back: on a dead primary the
        // rollback would wait out query_timeout a second time (the first write after a crash
        // came 12 s after it); a live server rolls back a dropped connection's transaction itself.
        if (!isFailoverError(e)) await client.query('rollback').catch(() => {});
        // a failover-shaped error inside fn arrives mapped: hand the raw shape back for the retry decision
        throw e;
      } finally {
        client.release(broken !== undefined && isFailoverError(broken) ? (broken as Error) : undefined);
      }
    }),
    async withAdvisoryLock(key, fn, lockOpts = {}) {
      let { client, target } = await dedicated();
      if (!(await tryLock(wrap(client, where, target), key, Boolean(lockOpts.wait)))) {
        await client.end().catch(() => {});
        throw new VlxError('conflict', `"${key}" is locked by ${await holder(key)}`,
          'wait for it to finish, or cancel it with `vlx tasks cancel ID`', { lockKey: key });
      }
      // The lock lives in the primary's memory: after a failover it is taken again on the new
      // primary, so another workstation cannot start the same work while this one goes on.
      let done = false;
      const relock = (): void => {
        if (done || closed || !multi) return;
        void (async () => {
          const until = Date.now() + 60_000;
          while (!done && Date.now() < until) {
            try {
              const next = await dedicated();
              if (await tryLock(wrap(next.client, where, next.target), key, false)) {
                ({ client, target } = next);
                client.on('end', relock);
                if (done) await client.end().catch(() => {});
                return;
              }
              await next.client.end().catch(() => {});
            } catch {
              // no primary yet: try again
            }
            await new Promise((r) => setTimeout(r, 500));
          }
        })();
      };
      client.on('end', relock);
      try {
        return await fn(wrap(client, where, target));
      } finally {
        done = true;
        await wrap(client, where, target).query(`select pg_advisory_unlock(${LOCK_ARGS})`, [key]).catch(() => {});
        // Closing the session would release the lock anyway; end() makes that certain.
        client.removeAllListeners('end');
        await client.end().catch(() => {});
      }
    },
    async isLocked(key) {
      const r = await pooled.query<{ held: boolean }>(`select ${lockHeldSql('$1')} as held`, [key]);
      return r.rows[0]!.held;
    },
    async listen(channel, onPayload) {
      if (!/^[a-z_][a-z0-9_]*$/.test(channel)) throw new VlxError('invalid-input', `channel: must be a lowercase identifier (got ${JSON.stringify(channel)})`);
      let stopped = false;
      let client: pg.Client | undefined;
      const attach = async (): Promise<void> => {
        const d = await dedicated();
        client = d.client;
        client.on('notification', (n) => {
          if (n.channel === channel) onPayload(n.payload ?? '');
        });
        await wrap(client, where, d.target).query(`listen ${channel}`);
        // After a failover, listen again on the new primary (notifications in between are lost;
        // listeners re-read state on any change, so a later one brings them up to date).
        client.on('end', () => {
          if (stopped || closed || !multi) return;
          void (async () => {
            for (let i = 0; i < 120 && !stopped && !closed; i++) {
              try {
                await attach();
                return;
              } catch {
                await new Promise((r) => setTimeout(r, 500));
              }
            }
          })();
        });
      };
      await attach();
      return async () => {
        stopped = true;
        await client?.end().catch(() => {});
      };
    },
    async close() {
      closed = true;
      const c = current;
      current = undefined;
      await c?.pool.end().catch(() => {});
    },
  };
}

/** The current cluster's database, from the app's config. */
export function openClusterDb(cluster: ClusterConfig, opts?: OpenOptions): Db {
  if (!cluster.db) {
    throw new VlxError('not-found', `cluster "${cluster.name}" has no database yet`, 'deploy it with `vlx db deploy --nodes NODES`');
  }
  return openDb(cluster.db, { cluster: cluster.name, ...opts });
}
