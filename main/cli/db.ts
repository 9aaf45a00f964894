import type { Command } from 'commander';
import { getCluster } from '../config/clusters.js';
import { openClusterDb } from '../db/client.js';
import { deployDatabase } from '../db/deploy.js';
import { appliedMigrations, migrate } from '../db/migrate.js';
import { MIGRATIONS } from '../db/migrations/index.js';
import { asVlxError } from '../errors.js';
import { withCurrentCluster } from '../ssh/session.js';
import { checkInt } from '../util/names.js';
import { EXIT, action, printJson, progressDone, progressLine } from './output.js';

export interface DbStatus {
  cluster: string;
  endpoint: { node: string; host: string; port: number; database: string; user: string };
  reachable: boolean;
  error?: { code: string; message: string; hint?: string };
  version?: string;
  migrations?: { applied: string[]; pending: string[]; unknown: string[] };
}

export function registerDb(program: Command): void {
  const db = program.command('db').description('the cluster database (PostgreSQL on a cluster node)');

  db.command('deploy')
    .description('put PostgreSQL on a node, create the app role and database, run the migrations (idempotent)')
    .requiredOption('--node <name>', 'the node that runs the database')
    .option('--port <port>', 'TCP port', '5432')
    .option('--allow <cidr...>', 'more networks allowed to connect (the cluster network and this workstation always are)')
    .option('--json', 'print the endpoint as JSON')
    .action(action(async (o: { node: string; port: string; allow?: string[]; json?: boolean }) => {
      const port = checkInt(o.port, 'port', 1, 65535);
      const ep = await withCurrentCluster((session) => deployDatabase(session, {
        node: o.node, port, allow: o.allow,
        onProgress: (p) => progressLine(`[${p.index}/${p.total}] ${p.step}: ${p.note}`),
      }));
      progressDone();
      const shown = { node: ep.node, host: ep.host, port: ep.port, database: ep.database, user: ep.user };
      if (o.json) printJson({ endpoint: shown });
      else process.stdout.write(`database ${ep.user}@${ep.host}:${ep.port}/${ep.database} on ${ep.node} is ready (password stored in this workstation's config only)\n`);
    }));

  db.command('status')
    .description('endpoint, reachability, server version and applied migrations')
    .option('--json', 'print as JSON')
    .action(action(async (o: { json?: boolean }) => {
      const cluster = getCluster();
      const conn = openClusterDb(cluster, { max: 1 });
      const ep = cluster.db!;
      const status: DbStatus = {
        cluster: cluster.name,
        endpoint: { node: ep.node, host: ep.host, port: ep.port, database: ep.database, user: ep.user },
        reachable: false,
      };
      try {
        const v = await conn.query<{ v: string }>("select current_setting('server_version') as v");
        status.reachable = true;
        status.version = v.rows[0].v;
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
        status.error = asVlxError(e).toJSON();
      } finally {
        await conn.close();
      }
      if (o.json) printJson(status);
      else {
        const lines = [
          `cluster:    ${status.cluster}`,
          `endpoint:   ${ep.user}@${ep.host}:${ep.port}/${ep.database} (node ${ep.node})`,
          `reachable:  ${status.reachable ? 'yes' : `no: ${status.error?.message}`}`,
        ];
        if (status.version) lines.push(`version:    PostgreSQL ${status.version}`);
        if (status.migrations) {
          lines.push(`migrations: ${status.migrations.applied.join(', ') || 'none'}`);
          if (status.migrations.pending.length) lines.push(`pending:    ${status.migrations.pending.join(', ')} (run \`vlx db migrate\`)`);
          if (status.migrations.unknown.length) lines.push(`newer:      ${status.migrations.unknown.join(', ')} (applied by a newer vlx)`);
        }
        process.stdout.write(lines.join('\n') + '\n');
      }
      return status.reachable ? 0 : EXIT[(status.error?.code as keyof typeof EXIT) ?? 'unreachable'] ?? EXIT.unreachable;
    }));

  db.command('migrate')
    .description('apply the migrations the cluster database does not have yet')
    .option('--json', 'print as JSON')
    .action(action(async (o: { json?: boolean }) => {
      const conn = openClusterDb(getCluster());
      try {
        const r = await migrate(conn);
        if (o.json) printJson(r);
        else process.stdout.write(r.applied.length ? `applied ${r.applied.join(', ')}\n` : 'schema up to date\n');
      } finally {
        await conn.close();
      }
    }));
}
