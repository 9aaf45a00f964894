import { VlxError, asVlxError } from '../errors.js';
import { openClusterDb } from '../db/client.js';
import { DEPLOY_STEPS, deployDatabase } from '../db/deploy.js';
import { appliedMigrations, migrate } from '../db/migrate.js';
import { MIGRATIONS } from '../db/migrations/index.js';
import type { DbStatus } from '../api/contract.js';
import type { Handlers } from './handlers.js';

type C = 'db.status' | 'db.migrate' | 'db.deploy';

function endpointOf(ctx: Parameters<Handlers<'db.status'>['db.status']>[0]) {
  const c = ctx.cluster().config;
  if (!c.db) throw new VlxError('not-found', `cluster ${c.name} has no database yet`, `deploy one with \`vlx db deploy --node NODE\``);
  return { cluster: c, ep: c.db };
}

export const handlers: Handlers<C> = {
  /** Reachability is data: a database that does not answer is a status, not a failed call. */
  'db.status': async (ctx) => {
    const { cluster, ep } = endpointOf(ctx);
    const conn = openClusterDb(cluster, { max: 1 });
    const status: DbStatus = {
      cluster: cluster.name,
      endpoint: { node: ep.node, host: ep.host, port: ep.port, database: ep.database, user: ep.user },
      reachable: false,
    };
    try {
      const v = await conn.query<{ v: string; ssl: boolean | null }>("select current_setting('server_version') as v, (select ssl from pg_stat_ssl where pid = pg_backend_pid()) as ssl");
      status.reachable = true;
      status.version = v.rows[0]!.v;
      status.tls = v.rows[0]!.ssl === true;
      const done = await appliedMigrations(conn);
      const names = new Set(done.map((d) => d.name));
      const known = new Set(MIGRATIONS.map((m) => m.name));
      status.migrations = {
        applied: done.map((d) => d.name),
        pending: MIGRATIONS.filter((m) => !names.has(m.name)).map((m) => m.name),
        // applied by a newer version of the app than this one
        unknown: done.filter((d) => !known.has(d.name)).map((d) => d.name),
      };
    } catch (e) {
      const err = asVlxError(e);
      status.error = { code: err.code, message: err.message, ...(err.hint ? { hint: err.hint } : {}) };
    } finally {
      await conn.close();
    }
    return status;
  },
  'db.migrate': async (ctx) => {
    const { cluster } = endpointOf(ctx);
    const conn = openClusterDb(cluster);
    try {
      const r = await migrate(conn);
      ctx.changed('vcs');
      return { applied: r.applied };
    } finally {
      await conn.close();
    }
  },
  /** Runs here, not as a DB task: the database it records tasks in is what it makes. */
  'db.deploy': async (ctx, { node, port, allow }) => {
    const c = ctx.cluster();
    if (!c.session.nodes().some((n) => n.name === node)) throw new VlxError('invalid-input', `node: must be a node of cluster ${c.name}`, `its nodes: ${c.session.nodes().map((n) => n.name).join(', ')}`);
    const steps: string[] = [...DEPLOY_STEPS];
    return {
      taskId: ctx.local.start('db.deploy', node, steps, async (t) => {
        const ep = await deployDatabase(c.session, {
          node, port, ...(allow ? { allow } : {}),
          onProgress: (p) => { t.step(p.step, p.note); t.log(`${p.step}: ${p.note}`); },
        });
        t.log(`database ${ep.user}@${ep.host}:${ep.port}/${ep.database} on ${ep.node} is ready (password stored in this workstation's config only)`);
        // The VC service holds a pool to the old endpoint, if any: reopen the cluster on next use.
        await ctx.closeCluster(c.name);
        ctx.changed('clusters', 'vcs');
      }),
    };
  },
};
