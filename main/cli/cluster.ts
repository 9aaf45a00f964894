import type { Command } from 'commander';
import { resolve } from 'node:path';
import { SHARED_ROOT } from '../config/paths.js';
import type { ClusterInfo } from '../api/contract.js';
import { action, num, printJson } from './output.js';
import { call } from './client.js';

const FLAGS = { name: 'NAME', address: '--address', user: '--user', port: '--port', keyFile: '--key' };

function auth(c: ClusterInfo): string {
  return c.keyFile ? `key ${c.keyFile}` : 'ssh-agent';
}

export function registerCluster(program: Command): void {
  const cluster = program.command('cluster').description('clusters this workstation manages');

  cluster
    .command('add')
    .description('reach a node of a cluster, learn all its nodes from the manifest, check every node, and remember the cluster')
    .argument('<name>', 'a name for the cluster on this workstation')
    .requiredOption('--address <addr>', 'address of any node of the cluster')
    .option('--user <user>', 'SSH user on the nodes', 'root')
    .option('--port <port>', 'SSH port on the nodes', '22')
    .option('--key <file>', 'private key file (default: the SSH agent)')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', '\nAn unknown host key is refused: run with --accept-new-host-key after checking the fingerprint shown.')
    .action(action(async (name: string, o: { address: string; user: string; port: string; key?: string; json?: boolean }) => {
      const added = await call('clusters.add', {
        name, address: o.address, user: o.user, port: num(o.port) as number, ...(o.key !== undefined ? { keyFile: resolve(o.key) } : {}),
      });
      if (o.json) {
        printJson(added);
        return 0;
      }
      process.stdout.write(`added cluster ${name}: ${added.nodes.length} node(s) ${added.fromManifest ? 'from the manifest' : `(no ${SHARED_ROOT}/manifest.json on ${o.address}: only this node is known)`}\n`);
      for (const r of added.checked) {
        process.stdout.write(`  ${r.node.padEnd(12)} ${r.address.padEnd(16)} ${r.ok ? 'ok' : (r.error?.message ?? 'failed')}\n`);
      }
      if (added.checked.some((r) => r.error?.code === 'host-key-unknown')) {
        process.stdout.write('  some nodes are not known yet: check their fingerprints, then run a command with --accept-new-host-key\n');
      }
      if (!added.current) process.stdout.write(`make it the current cluster with: vlx cluster use ${name}\n`);
      return 0;
    }, FLAGS));

  cluster
    .command('list')
    .description('the clusters this workstation knows, the current one marked')
    .option('--json', 'print as JSON')
    .action(action(async (o: { json?: boolean }) => {
      const { clusters } = await call('clusters.list', {});
      if (o.json) {
        printJson(clusters);
        return 0;
      }
      if (clusters.length === 0) {
        process.stdout.write('no clusters: add one with `vlx cluster add NAME --address A` or start a lab with `vlx lab up`\n');
        return 0;
      }
      process.stdout.write(`  ${'NAME'.padEnd(16)} ${'NODES'.padEnd(6)} ${'USER'.padEnd(8)} AUTH\n`);
      for (const c of clusters) {
        process.stdout.write(`${c.current ? '*' : ' '} ${c.name.padEnd(16)} ${String(c.nodes.length).padEnd(6)} ${c.user.padEnd(8)} ${auth(c)}${c.lab ? ' (lab)' : ''}\n`);
      }
      return 0;
    }));

  cluster
    .command('use')
    .description('make a cluster the current one')
    .argument('<name>', 'cluster name')
    .action(action(async (name: string) => {
      await call('clusters.use', { name });
      process.stdout.write(`current cluster: ${name}\n`);
      return 0;
    }, FLAGS));

  cluster
    .command('remove')
    .description('forget a cluster on this workstation (nothing on the cluster changes)')
    .argument('<name>', 'cluster name')
    .action(action(async (name: string) => {
      await call('clusters.remove', { name });
      process.stdout.write(`removed cluster ${name}\n`);
      return 0;
    }, FLAGS));
}
