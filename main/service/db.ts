import { VlxError, asVlxError } from '../errors.js';
import { openClusterDb } from '../db/client.js';
import { DEPLOY_STEPS, deployDatabase } from '../db/deploy.js';
import { appliedMigrations, migrate } from '../db/migrate.js';
import { MIGRATIONS } from '../db/migrations/index.js';
import type { DbStatus } from '../api/contract.js';
import type { Handlers } from './handlers.js';
import { etcdMembers } from '../db/haConfig.js';
import { etcdHealth, memberStatuses } from '../db/haStatus.js';
import { endpointMembers, switchover } from '../db/switchover.js';

type C = 'db.status' | 'db.migrate' | 'db.deploy' | 'db.switchover';

function endpointOf(ctx: Parameters<Handlers<'db.status'>['db.status']>[0]) {
  const c = ctx.cluster().config;
  if (!c.db) throw new VlxError('not-found', `cluster ${c.name} has no database yet`, `deploy one with \`vlx db deploy --nodes NODES\``);
  return { cluster: c, ep: c.db };
}

export const handlers: Handlers<C> = {
  /** Reachability is data: a database that does not answer is a status, not a failed call. */
  'db.status': async (ctx) => {
    const { cluster, ep } = endpointOf(ctx);
    // Status asks once: a failover in progress is what it should show, not wait out.
    const conn = openClusterDb(cluster, { max: 1, failoverWaitMs: 0 });
    const members = endpointMembers(ep);
    // Patroni and etcd answer for themselves, in parallel with the SQL below; a dead node is a row.
    const daemons = ep.members ? Promise.all([memberStatuses(members, ep.haTls), etcdHealth(etcdMembers(members), ep.haTls)]) : undefined;
    const status: DbStatus = {
      cluster: cluster.name,
      endpoint: { node: ep.node, host: ep.host, port: ep.port, database: ep.database, user: ep.user },
      reachable: false,
    };
    try {
      // As the login role itself: sessions act as vlx, which may not read another role's pg_stat_ssl row.
      const v = await conn.tx(async (q) => {
        await q.query('set local role none');
        return q.query<{ v: string; ssl: boolean | null }>("select current_setting('server_version') as v, (select ssl from pg_stat_ssl where pid = pg_backend_pid()) as ssl");
      });
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
    if (daemons) {
      const [ms, etcd] = await daemons;
      status.members = ms;
      status.etcd = etcd;
      const p = ms.find((m) => m.role === 'primary');
      if (p) status.primary = p.node;
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
  'db.deploy': async (ctx, { node, nodes, port, allow }) => {
    if ((node === undefined) === (nodes === undefined)) throw new VlxError('invalid-input', 'nodes: give the members (or node for a single one), exactly one of the two');
    if (nodes && new Set(nodes).size !== nodes.length) throw new VlxError('invalid-input', 'nodes: a member is named twice');
    const c = ctx.cluster();
    const members = nodes ?? [node!];
    for (const n of members) {
      if (!c.session.nodes().some((x) => x.name === n)) throw new VlxError('invalid-input', `nodes: ${n} is not a node of cluster ${c.name}`, `its nodes: ${c.session.nodes().map((x) => x.name).join(', ')}`);
    }
    const steps: string[] = [...DEPLOY_STEPS, 'watchdogs'];
    return {
      taskId: ctx.local.start('db.deploy', members.join(','), steps, async (t) => {
        const ep = await deployDatabase(c.session, {
          nodes: members, port, ...(allow ? { allow } : {}),
          onProgress: (p) => { t.step(p.step, p.note); t.log(`${p.step}: ${p.note}`); },
        });
        t.log(`database ${ep.user}@…:${ep.port}/${ep.database} on ${members.join(', ')} (primary ${ep.node}) is ready (password stored in this workstation's config only)`);
        // Every node's self-fencing watchdog (HA restart), with its own role in this database.
        const { deployWatchdogs } = await import('../ha/watchdogDeploy.js');
        await deployWatchdogs(c.session, ep, (note) => { t.step('watchdogs', note); t.log(`watchdogs: ${note}`); });
        // The VC service holds a pool to the old endpoint, if any: reopen the cluster on next use.
        await ctx.closeCluster(c.name);
        ctx.changed('clusters', 'vcs');
      }),
    };
  },
  'db.switchover': async (ctx, { to }) => {
    const { cluster, ep } = endpointOf(ctx);
    const r = await switchover(ctx.cluster().session, cluster.name, ep, to);
    // Pools of this process point at the old primary: they follow by themselves, but reopen now.
    await ctx.closeCluster(cluster.name);
    ctx.changed('clusters');
    return r;
  },
};
