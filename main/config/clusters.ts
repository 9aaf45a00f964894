import { mkdirSync, readFileSync, renameSync, writeFileSync, chmodSync, existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';
import { appPaths } from './paths.js';
import { VlxError } from '../errors.js';

/** How the app reaches the cluster database. The password lives only here (mode 0600). */
export const DbEndpoint = z.object({
  node: z.string(),
  host: z.string(),
  port: z.number().int(),
  database: z.string(),
  user: z.string(),
  password: z.string(),
});
export type DbEndpoint = z.infer<typeof DbEndpoint>;

export const ClusterConfig = z.object({
  name: z.string(),
  /** Every node address known for the cluster; any live one will do. */
  nodes: z.array(z.object({ name: z.string(), address: z.string() })),
  user: z.string().default('root'),
  port: z.number().int().default(22),
  /** A private key file, or absent to use the SSH agent ($SSH_AUTH_SOCK). */
  keyFile: z.string().optional(),
  lab: z.boolean().default(false),
  db: DbEndpoint.optional(),
  /** The node that answered last: tried first next time (any live node will do). */
  lastNode: z.string().optional(),
});
export type ClusterConfig = z.infer<typeof ClusterConfig>;

const Store = z.object({
  current: z.string().optional(),
  clusters: z.record(z.string(), ClusterConfig).default({}),
});
type Store = z.infer<typeof Store>;

export function loadStore(): Store {
  const file = appPaths.clusters();
  if (!existsSync(file)) return { clusters: {} };
  return Store.parse(JSON.parse(readFileSync(file, 'utf8')));
}

function saveStore(s: Store): void {
  const file = appPaths.clusters();
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(s, null, 2) + '\n', { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}

export function listClusters(): ClusterConfig[] {
  return Object.values(loadStore().clusters);
}

export function getCluster(name?: string): ClusterConfig {
  const s = loadStore();
  const key = name ?? process.env.VLX_CLUSTER ?? s.current;
  if (!key) throw new VlxError('not-found', 'no cluster selected', 'add one with `vlx cluster add` or start a lab with `vlx lab up`');
  const c = s.clusters[key];
  if (!c) throw new VlxError('not-found', `cluster "${key}" is not known`, 'see `vlx cluster list`');
  return c;
}

export function putCluster(c: ClusterConfig, makeCurrent = false): void {
  const s = loadStore();
  s.clusters[c.name] = ClusterConfig.parse(c);
  if (makeCurrent || !s.current) s.current = c.name;
  saveStore(s);
}

/** Remember the node that answered, if the cluster is still in the store (sessions may outlive it). */
export function rememberLastNode(cluster: string, node: string): void {
  const s = loadStore();
  const c = s.clusters[cluster];
  if (!c || c.lastNode === node) return;
  c.lastNode = node;
  saveStore(s);
}

export function removeCluster(name: string): void {
  const s = loadStore();
  delete s.clusters[name];
  if (s.current === name) s.current = Object.keys(s.clusters)[0];
  saveStore(s);
}

export function useCluster(name: string): void {
  const s = loadStore();
  if (!s.clusters[name]) throw new VlxError('not-found', `cluster "${name}" is not known`, 'see `vlx cluster list`');
  s.current = name;
  saveStore(s);
}

export function currentClusterName(): string | undefined {
  return process.env.VLX_CLUSTER ?? loadStore().current;
}
