import type { Command } from 'commander';
import type { DbStatus } from '../api/contract.js';
import { EXIT, action, num, printJson } from './output.js';
import { call, runTask } from './client.js';

const FLAGS = { node: '--node', port: '--port', allow: '--allow' };

function renderStatus(s: DbStatus): string {
  const ep = s.endpoint;
  const lines = [
    `cluster:    ${s.cluster}`,
    `endpoint:   ${ep.user}@${ep.host}:${ep.port}/${ep.database} (node ${ep.node})`,
    `reachable:  ${s.reachable ? `yes${s.tls ? ' (TLS)' : ''}` : `no: ${s.error?.message}`}`,
  ];
  if (s.version) lines.push(`version:    PostgreSQL ${s.version}`);
  if (s.migrations) {
    lines.push(`migrations: ${s.migrations.applied.join(', ') || 'none'}`);
    if (s.migrations.pending.length) lines.push(`pending:    ${s.migrations.pending.join(', ')} (run \`vlx db migrate\`)`);
    if (s.migrations.unknown.length) lines.push(`newer:      ${s.migrations.unknown.join(', ')} (applied by a newer vlx)`);
  }
  return lines.join('\n') + '\n';
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
      const { exitCode } = await runTask('db.deploy', { node: o.node, port: num(o.port) as number, ...(o.allow ? { allow: o.allow } : {}) }, { json: Boolean(o.json) });
      if (exitCode !== 0) return exitCode;
      const s = await call('db.status', {});
      if (o.json) printJson({ endpoint: s.endpoint });
      else process.stdout.write(`database ${s.endpoint.user}@${s.endpoint.host}:${s.endpoint.port}/${s.endpoint.database} on ${s.endpoint.node} is ready (password stored in this workstation's config only)\n`);
      return 0;
    }, FLAGS));

  db.command('status')
    .description('endpoint, reachability, server version and applied migrations')
    .option('--json', 'print as JSON')
    .action(action(async (o: { json?: boolean }) => {
      const s = await call('db.status', {});
      if (o.json) printJson(s);
      else process.stdout.write(renderStatus(s));
      return s.reachable ? 0 : EXIT[(s.error?.code as keyof typeof EXIT) ?? 'unreachable'] ?? EXIT.unreachable;
    }));

  db.command('migrate')
    .description('apply the migrations the cluster database does not have yet')
    .option('--json', 'print as JSON')
    .action(action(async (o: { json?: boolean }) => {
      const r = await call('db.migrate', {});
      if (o.json) printJson(r);
      else process.stdout.write(r.applied.length ? `applied ${r.applied.join(', ')}\n` : 'schema up to date\n');
    }));
}
