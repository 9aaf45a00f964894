import type { Command } from 'commander';
import type { DbStatus } from '../api/contract.js';
import { EXIT, action, num, printJson } from './output.js';
import { call, runTask } from './client.js';

const FLAGS = { node: '--node', nodes: '--nodes', port: '--port', allow: '--allow', to: '--to' };

function renderStatus(s: DbStatus): string {
  const ep = s.endpoint;
  const lines = [
    `cluster:    ${s.cluster}`,
    `endpoint:   ${ep.user}@${ep.host}:${ep.port}/${ep.database} (node ${ep.node})`,
    `reachable:  ${s.reachable ? `yes${s.tls ? ' (TLS)' : ''}` : `no: ${s.error?.message}`}`,
  ];
  if (s.version) lines.push(`version:    PostgreSQL ${s.version}`);
  if (s.members) {
    lines.push(`primary:    ${s.primary ?? 'none (no member is writable)'}`);
    lines.push('members:');
    for (const m of s.members) {
      const lag = m.lagBytes === undefined ? '' : `  lag ${m.lagBytes} B`;
      lines.push(`  ${m.node.padEnd(8)} ${m.host.padEnd(15)} ${m.role.padEnd(12)} ${m.state}${m.timeline !== undefined ? `  timeline ${m.timeline}` : ''}${lag}${m.patroniRole ? `  (${m.patroniRole})` : ''}`);
    }
  }
  if (s.etcd) {
    const up = s.etcd.members.filter((m) => m.healthy).length;
    lines.push(`etcd:       ${s.etcd.quorum ? 'quorum' : 'NO QUORUM'} (${up}/${s.etcd.members.length} healthy${s.etcd.leader ? `, leader ${s.etcd.leader}` : ''})`);
    for (const m of s.etcd.members) lines.push(`  ${m.node.padEnd(8)} ${m.host.padEnd(15)} ${m.healthy ? 'healthy' : 'unhealthy'}${m.leader ? ' (leader)' : ''}${m.error ? `: ${m.error}` : ''}`);
  }
  if (s.migrations) {
    lines.push(`migrations: ${s.migrations.applied.join(', ') || 'none'}`);
    if (s.migrations.pending.length) lines.push(`pending:    ${s.migrations.pending.join(', ')} (run \`vlx db migrate\`)`);
    if (s.migrations.unknown.length) lines.push(`newer:      ${s.migrations.unknown.join(', ')} (applied by a newer vlx)`);
  }
  return lines.join('\n') + '\n';
}

export function registerDb(program: Command): void {
  const db = program.command('db').description('the cluster database (PostgreSQL under Patroni, with etcd, on cluster nodes)');

  db.command('deploy')
    .description('put the database on its members (etcd, Patroni, PostgreSQL with a synchronous standby), create the app role, run the migrations (idempotent)')
    .option('--nodes <names>', 'the members, comma-separated (e.g. n1,n2,n3)')
    .option('--node <name>', 'a single member (same as --nodes NAME)')
    .option('--port <port>', 'TCP port', '5432')
    .option('--allow <cidr...>', 'more networks allowed to connect (the cluster network and this workstation always are)')
    .option('--json', 'print the endpoint as JSON')
    .action(action(async (o: { node?: string; nodes?: string; port: string; allow?: string[]; json?: boolean }) => {
      const members = o.nodes !== undefined ? { nodes: o.nodes.split(',').map((n) => n.trim()).filter(Boolean) } : o.node !== undefined ? { node: o.node } : {};
      const { exitCode } = await runTask('db.deploy', { ...members, port: num(o.port) as number, ...(o.allow ? { allow: o.allow } : {}) }, { json: Boolean(o.json) });
      if (exitCode !== 0) return exitCode;
      const s = await call('db.status', {});
      if (o.json) printJson({ endpoint: s.endpoint });
      else process.stdout.write(`database ${s.endpoint.user}@${s.endpoint.host}:${s.endpoint.port}/${s.endpoint.database} is ready, primary ${s.primary ?? s.endpoint.node}${s.members ? ` of ${s.members.map((m) => m.node).join(', ')}` : ''} (password stored in this workstation's config only)\n`);
      return 0;
    }, FLAGS));

  db.command('status')
    .description('every member with its role, lag and timeline; etcd health; server version and migrations')
    .option('--json', 'print as JSON')
    .action(action(async (o: { json?: boolean }) => {
      const s = await call('db.status', {});
      if (o.json) printJson(s);
      else process.stdout.write(renderStatus(s));
      return s.reachable ? 0 : EXIT[(s.error?.code as keyof typeof EXIT) ?? 'unreachable'] ?? EXIT.unreachable;
    }));

  db.command('switchover')
    .description('move the primary to another member on purpose (Patroni demotes the old one first)')
    .requiredOption('--to <node>', 'the standby that becomes primary')
    .option('--json', 'print as JSON')
    .action(action(async (o: { to: string; json?: boolean }) => {
      const r = await call('db.switchover', { to: o.to });
      if (o.json) printJson(r);
      else process.stdout.write(`primary moved from ${r.from} to ${r.to} (${(r.ms / 1000).toFixed(1)} s until this workstation wrote there)\n`);
    }, FLAGS));

  db.command('migrate')
    .description('apply the migrations the cluster database does not have yet')
    .option('--json', 'print as JSON')
    .action(action(async (o: { json?: boolean }) => {
      const r = await call('db.migrate', {});
      if (o.json) printJson(r);
      else process.stdout.write(r.applied.length ? `applied ${r.applied.join(', ')}\n` : 'schema up to date\n');
    }));
}
