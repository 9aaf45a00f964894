import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { VlxError, invalid } from '../errors.js';
import { currentClusterName, getCluster, listClusters, loadStore, putCluster, removeCluster, useCluster, type ClusterConfig } from '../config/clusters.js';
import { SHARED_ROOT } from '../config/paths.js';
import { firstContact, nodesFromFirstContact } from '../cluster/firstContact.js';
import { openCluster } from '../ssh/session.js';
import { checkAddress, checkInt, checkName } from '../util/names.js';
import { action, printJson } from './output.js';

const USER_RE = /^[a-z_][a-z0-9_-]{0,31}$/;
// Kept for callers that learned it here; the logic lives with the SSH first contact.
export { nodesFromFirstContact };

function publicView(c: ClusterConfig, current: string | undefined) {
  return {
    name: c.name,
    current: c.name === current,
    lab: c.lab,
    user: c.user,
    port: c.port,
    ...(c.keyFile ? { keyFile: c.keyFile } : { auth: 'ssh-agent' }),
    nodes: c.nodes,
    ...(c.lastNode ? { lastNode: c.lastNode } : {}),
    // The DB password stays in the 0600 store: never printed.
    ...(c.db ? { db: { node: c.db.node, host: c.db.host, port: c.db.port } } : {}),
  };
}

async function addCluster(name: string, o: { address?: string; user: string; port: string; key?: string; json?: boolean }): Promise<number> {
  checkName('cluster', name, 'NAME');
  const address = checkAddress(o.address, '--address');
  const port = checkInt(o.port, '--port', 1, 65535);
  if (!USER_RE.test(o.user)) throw invalid('--user', 'must be a user name: lowercase letters, digits, "_" or "-"', o.user);
  const keyFile = o.key === undefined ? undefined : resolve(o.key);
  if (keyFile && !existsSync(keyFile)) throw invalid('--key', 'must be an existing private key file', o.key);
  if (loadStore().clusters[name]) throw new VlxError('conflict', `cluster "${name}" already exists`, `remove it first with \`vlx cluster remove ${name}\``);

  // Reach the given address first: nothing is saved unless it answers and its key is trusted.
  const learned = await firstContact(address, { user: o.user, port, ...(keyFile ? { keyFile } : {}) });

  const config: ClusterConfig = { name, nodes: learned.nodes, user: o.user, port, keyFile, lab: false };
  // Check every other node now, so unknown host keys and refused keys show up here, not later.
  const session = openCluster(config, { persistLastNode: false });
  const check = await session.onNodes('all', 'true', { timeoutMs: 20_000 }).finally(() => session.close());
  putCluster(config);
  const current = currentClusterName();
  if (o.json) {
    printJson({ cluster: publicView(config, current), fromManifest: learned.fromManifest, nodes: check.map((r) => ({ node: r.node, address: r.address, ok: r.code === 0, ...(r.error ? { error: r.error } : {}) })) });
    return 0;
  }
  process.stdout.write(`added cluster ${name}: ${config.nodes.length} node(s) ${learned.fromManifest ? 'from the manifest' : `(no ${SHARED_ROOT}/manifest.json on ${address}: only this node is known)`}\n`);
  for (const r of check) {
    process.stdout.write(`  ${r.node.padEnd(12)} ${r.address.padEnd(16)} ${r.code === 0 ? 'ok' : (r.error?.message ?? `exit ${r.code}`)}\n`);
  }
  if (check.some((r) => r.error?.code === 'host-key-unknown')) {
    process.stdout.write('  some nodes are not known yet: check their fingerprints, then run a command with --accept-new-host-key\n');
  }
  if (current !== name) process.stdout.write(`make it the current cluster with: vlx cluster use ${name}\n`);
  return 0;
}

export function registerCluster(program: Command): void {
  const cluster = program.command('cluster').description('clusters this workstation manages');

  cluster
    .command('add')
    .description('reach a node of a cluster, learn all its nodes from the manifest, and remember the cluster')
    .argument('<name>', 'a name for the cluster on this workstation')
    .requiredOption('--address <addr>', 'address of any node of the cluster')
    .option('--user <user>', 'SSH user on the nodes', 'root')
    .option('--port <port>', 'SSH port on the nodes', '22')
    .option('--key <file>', 'private key file (default: the SSH agent)')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', '\nAn unknown host key is refused: run with --accept-new-host-key after checking the fingerprint shown.')
    .action(action(async (name: string, o: { address?: string; user: string; port: string; key?: string; json?: boolean }) => addCluster(name, o)));

  cluster
    .command('list')
    .description('the clusters this workstation knows, the current one marked')
    .option('--json', 'print as JSON')
    .action(action(async (o: { json?: boolean }) => {
      const current = currentClusterName();
      const all = listClusters().map((c) => publicView(c, current));
      if (o.json) {
        printJson(all);
        return 0;
      }
      if (all.length === 0) {
        process.stdout.write('no clusters: add one with `vlx cluster add NAME --address A` or start a lab with `vlx lab up`\n');
        return 0;
      }
      process.stdout.write(`  ${'NAME'.padEnd(16)} ${'NODES'.padEnd(6)} ${'USER'.padEnd(8)} AUTH\n`);
      for (const c of all) {
        const auth = 'keyFile' in c ? `key ${c.keyFile}` : 'ssh-agent';
        process.stdout.write(`${c.current ? '*' : ' '} ${c.name.padEnd(16)} ${String(c.nodes.length).padEnd(6)} ${c.user.padEnd(8)} ${auth}${c.lab ? ' (lab)' : ''}\n`);
      }
      return 0;
    }));

  cluster
    .command('use')
    .description('make a cluster the current one')
    .argument('<name>', 'cluster name')
    .action(action(async (name: string) => {
      checkName('cluster', name, 'NAME');
      useCluster(name);
      process.stdout.write(`current cluster: ${name}\n`);
      return 0;
    }));

  cluster
    .command('remove')
    .description('forget a cluster on this workstation (nothing on the cluster changes)')
    .argument('<name>', 'cluster name')
    .action(action(async (name: string) => {
      checkName('cluster', name, 'NAME');
      getCluster(name);
      removeCluster(name);
      process.stdout.write(`removed cluster ${name}\n`);
      return 0;
    }));
}
