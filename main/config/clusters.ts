import { mkdirSync, readFileSync, renameSync, writeFileSync, chmodSync, existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { appPaths } from './paths.js';
import { VlxError } from '../errors.js';

/** How the app reaches the cluster database. The password lives only here (mode 0600). */
export interface DbEndpoint {
  node: string;
  host: string;
  port: number;
  database: string;
  user: string;
  password: string;
  /**
   * The server's TLS certificate (PEM), read over the host-key-verified SSH link at deploy:
   * pinned like a host key, so the client accepts this certificate and no other.
   */
  tlsCert?: string;
  /**
   * Every database member (Patroni + PostgreSQL). The client finds the primary among them;
   * node/host above is the primary at deploy time, a first guess only.
   */
  members?: { node: string; host: string }[];
  /**
   * For etcd and Patroni's REST API on the members: the cluster CA (read over SSH at deploy,
   * the only CA trusted for them) and this workstation's client certificate and key from it.
   */
  haTls?: { ca: string; cert: string; key: string };
}

export interface ClusterConfig {
  name: string;
  /** Every node address known for the cluster; any live one will do. */
  nodes: { name: string; address: string }[];
  user: string;
  port: number;
  /** A private key file, or absent to use the SSH agent ($SSH_AUTH_SOCK). */
  keyFile?: string;
  lab: boolean;
  db?: DbEndpoint;
  /** The node that answered last: tried first next time (any live node will do). */
  lastNode?: string;
}

/**
 * `clusters` has no prototype: a cluster may be called `constructor`, `__proto__` or
 * `toString`, and looking one up must never find a property of Object.prototype instead.
 */
interface Store {
  current?: string;
  clusters: Record<string, ClusterConfig>;
}

function emptyClusters(): Record<string, ClusterConfig> {
  return Object.create(null) as Record<string, ClusterConfig>;
}

/** A cluster by name, or undefined: an own entry only, whatever the name. */
export function findCluster(s: Store, name: string): ClusterConfig | undefined {
  return Object.prototype.hasOwnProperty.call(s.clusters, name) ? s.clusters[name] : undefined;
}

/*
 * Checked by hand rather than with zod: every CLI command reads this file first, and
 * loading zod alone costs a cold `vlx exec` about a tenth of a second.
 */
type Obj = Record<string, unknown>;

function bad(where: string, rule: string): VlxError {
  return new VlxError('invalid-input', `${appPaths.clusters()}: ${where} ${rule}`, 'fix or remove the file; `vlx cluster add` writes it');
}

function obj(v: unknown, where: string): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw bad(where, 'must be an object');
  return v as Obj;
}

function str(o: Obj, key: string, where: string, optional = false): string | undefined {
  const v = o[key];
  if (v === undefined && optional) return undefined;
  if (typeof v !== 'string') throw bad(`${where}.${key}`, 'must be a string');
  return v;
}

function int(o: Obj, key: string, where: string, fallback?: number): number {
  const v = o[key];
  if (v === undefined && fallback !== undefined) return fallback;
  if (typeof v !== 'number' || !Number.isInteger(v)) throw bad(`${where}.${key}`, 'must be an integer');
  return v;
}

function bool(o: Obj, key: string, where: string, fallback: boolean): boolean {
  const v = o[key];
  if (v === undefined) return fallback;
  if (typeof v !== 'boolean') throw bad(`${where}.${key}`, 'must be true or false');
  return v;
}

function parseDb(v: unknown, where: string): DbEndpoint {
  const o = obj(v, where);
  const db: DbEndpoint = {
    node: str(o, 'node', where)!, host: str(o, 'host', where)!, port: int(o, 'port', where),
    database: str(o, 'database', where)!, user: str(o, 'user', where)!, password: str(o, 'password', where)!,
  };
  const cert = str(o, 'tlsCert', where, true);
  if (cert !== undefined) {
    if (!/^-----BEGIN CERTIFICATE-----\n[\s\S]+\n-----END CERTIFICATE-----\n?$/.test(cert)) throw bad(`${where}.tlsCert`, 'must be one PEM certificate');
    db.tlsCert = cert;
  }
  if (o.haTls !== undefined) {
    const t = obj(o.haTls, `${where}.haTls`);
    const pem = (key: string, label: string): string => {
      const v = str(t, key, `${where}.haTls`)!;
      if (!new RegExp(`^-----BEGIN ${label}-----\\n[\\s\\S]+\\n-----END ${label}-----\\n?$`).test(v)) throw bad(`${where}.haTls.${key}`, `must be one PEM ${label.toLowerCase()}`);
      return v;
    };
    db.haTls = { ca: pem('ca', 'CERTIFICATE'), cert: pem('cert', 'CERTIFICATE'), key: pem('key', 'PRIVATE KEY') };
  }
  if (o.members !== undefined) {
    if (!Array.isArray(o.members) || o.members.length === 0) throw bad(`${where}.members`, 'must be a non-empty array');
    db.members = o.members.map((m, i) => {
      const e = obj(m, `${where}.members[${i}]`);
      return { node: str(e, 'node', `${where}.members[${i}]`)!, host: str(e, 'host', `${where}.members[${i}]`)! };
    });
  }
  return db;
}

/** A cluster entry, with defaults filled in (user root, port 22, not a lab). */
export function parseClusterConfig(v: unknown, where = 'cluster'): ClusterConfig {
  const o = obj(v, where);
  if (!Array.isArray(o.nodes)) throw bad(`${where}.nodes`, 'must be an array');
  const c: ClusterConfig = {
    name: str(o, 'name', where)!,
    nodes: o.nodes.map((n, i) => {
      const e = obj(n, `${where}.nodes[${i}]`);
      return { name: str(e, 'name', `${where}.nodes[${i}]`)!, address: str(e, 'address', `${where}.nodes[${i}]`)! };
    }),
    user: str(o, 'user', where, true) ?? 'root',
    port: int(o, 'port', where, 22),
    lab: bool(o, 'lab', where, false),
  };
  const keyFile = str(o, 'keyFile', where, true);
  if (keyFile !== undefined) c.keyFile = keyFile;
  if (o.db !== undefined) c.db = parseDb(o.db, `${where}.db`);
  const lastNode = str(o, 'lastNode', where, true);
  if (lastNode !== undefined) c.lastNode = lastNode;
  return c;
}

function parseStore(v: unknown): Store {
  const o = obj(v, 'the file');
  const clusters = emptyClusters();
  if (o.clusters !== undefined) {
    for (const [k, c] of Object.entries(obj(o.clusters, 'clusters'))) {
      const parsed = parseClusterConfig(c, `clusters.${k}`);
      if (parsed.name !== k) throw bad(`clusters.${k}.name`, `must be the key it is stored under ("${k}")`);
      clusters[k] = parsed;
    }
  }
  const current = str(o, 'current', 'the file', true);
  return current === undefined ? { clusters } : { current, clusters };
}

export function loadStore(): Store {
  const file = appPaths.clusters();
  if (!existsSync(file)) return { clusters: emptyClusters() };
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new VlxError('invalid-input', `${file} is not valid JSON: ${(e as Error).message}`, 'fix or remove the file; `vlx cluster add` writes it');
  }
  return parseStore(raw);
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
  const key = name ?? (process.env.VLX_CLUSTER || undefined) ?? s.current;
  if (!key) throw new VlxError('not-found', 'no cluster selected', 'add one with `vlx cluster add` or start a lab with `vlx lab up`');
  const c = findCluster(s, key);
  if (!c) throw new VlxError('not-found', `cluster "${key}" is not known`, 'see `vlx cluster list`');
  return c;
}

export function putCluster(c: ClusterConfig, makeCurrent = false): void {
  const s = loadStore();
  s.clusters[c.name] = parseClusterConfig(c);
  if (makeCurrent || !s.current) s.current = c.name;
  saveStore(s);
}

/** Remember the node that answered, if the cluster is still in the store (sessions may outlive it). */
export function rememberLastNode(cluster: string, node: string): void {
  const s = loadStore();
  const c = findCluster(s, cluster);
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
  if (!findCluster(s, name)) throw new VlxError('not-found', `cluster "${name}" is not known`, 'see `vlx cluster list`');
  s.current = name;
  saveStore(s);
}

export function currentClusterName(): string | undefined {
  return process.env.VLX_CLUSTER || loadStore().current;
}
