import { randomBytes } from 'node:crypto';
import { VlxError } from '../errors.js';
import { findCluster, loadStore, putCluster, type DbEndpoint } from '../config/clusters.js';
import { SHARED_ROOT } from '../config/paths.js';
import type { ClusterSession } from '../ssh/session.types.js';
import type { NodeConn } from '../ssh/types.js';
import { sh } from '../util/quote.js';
import { checkInt, checkName, isIPv4 } from '../util/names.js';
import { openDb } from './client.js';
import { migrate } from './migrate.js';
import { PG_ROOT } from './haConfig.js';
import { psqlScript, setupHaMembers } from './haDeploy.js';
import type { TlsPaths } from './nodeScripts.js';
import { newDbPassword, scramVerifier } from './scram.js';
import { certFingerprint } from './tls.js';

export const DB_NAME = 'virtualinux';
/** Owns the database and every object in it; nobody logs in as it directly. */
export const DB_ROLE = 'vlx';
/**
 * Each workstation logs in with a role of its own (a member of vlx that acts as vlx), so a
 * second workstation deploying or recovering its password never changes the first one's.
 */
export const LOGIN_ROLE = /^vlx_[0-9a-f]{8}$/;

export function newLoginRole(): string {
  return `vlx_${randomBytes(4).toString('hex')}`;
}

/** SQL (run as the superuser) that makes `user` a working login for the app. Pure. */
export function roleSql(user: string, verifier: string): string {
  if (!LOGIN_ROLE.test(user)) throw new VlxError('invalid-input', `db user: must match ${LOGIN_ROLE} (got ${JSON.stringify(user)})`);
  if (!/^SCRAM-SHA-256\$\d+:[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+$/.test(verifier)) throw new VlxError('internal', 'not a SCRAM verifier');
  return [
    `do $$ begin`,
    `  if not exists (select 1 from pg_roles where rolname = '${DB_ROLE}') then create role ${DB_ROLE} nologin; end if;`,
    `  if not exists (select 1 from pg_roles where rolname = '${user}') then create role ${user} login; end if;`,
    `end $$;`,
    `grant ${DB_ROLE} to ${user};`,
    `alter role ${user} login password '${verifier}';`,
    // every session acts as the owner: objects it creates belong to vlx, whoever migrated
    `alter role ${user} set role = '${DB_ROLE}';`,
    `select 'create database ${DB_NAME} owner ${DB_ROLE}' where not exists (select 1 from pg_database where datname = '${DB_NAME}') \\gexec`,
    '',
  ].join('\n');
}
export const DEFAULT_DB_PORT = 5432;

export { PG_ROOT } from './haConfig.js';
// Outside the data dir: a re-initialised database keeps the certificate workstations pinned.
export const TLS: TlsPaths = { dir: `${PG_ROOT}/tls`, cert: `${PG_ROOT}/tls/server.crt`, key: `${PG_ROOT}/tls/server.key` };

export const DEPLOY_STEPS = ['members', 'role', 'migrate', 'record'] as const;
export type DeployStep = (typeof DEPLOY_STEPS)[number];

export interface DeployProgress {
  step: DeployStep;
  index: number;
  total: number;
  note: string;
}

export interface DeployOptions {
  /** The members: PostgreSQL under Patroni on each, etcd on the first five. One node is a cluster of one. */
  nodes: string[];
  port?: number;
  /** More networks (CIDR) allowed to log in, beyond the cluster network and this workstation. */
  allow?: string[];
  onProgress?: (p: DeployProgress) => void;
}

const CIDR = /^(\d{1,3}\.){3}\d{1,3}\/(\d|[12]\d|3[0-2])$/;

export function checkCidr(value: string, field: string): string {
  const [ip, len] = value.split('/');
  if (!CIDR.test(value) || !isIPv4(ip) || Number(len) > 32) throw new VlxError('invalid-input', `${field}: must be an IPv4 network like 10.77.0.0/24 (got ${JSON.stringify(value)})`);
  return value;
}

export function checkMembers(nodes: string[]): string[] {
  if (nodes.length === 0) throw new VlxError('invalid-input', 'nodes: name at least one node');
  const names = nodes.map((n) => checkName('node', n, 'nodes'));
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup) throw new VlxError('invalid-input', `nodes: ${dup} is named twice`);
  return names;
}

function sameNet(ip: string, cidr: string): boolean {
  const toInt = (a: string) => a.split('.').reduce((n, o) => (n << 8) + Number(o), 0) >>> 0;
  const [net, len] = cidr.split('/');
  const mask = Number(len) === 0 ? 0 : (~0 << (32 - Number(len))) >>> 0;
  return ((toInt(ip) & mask) >>> 0) === ((toInt(net) & mask) >>> 0);
}

async function readManifest(conn: NodeConn): Promise<Record<string, unknown> | undefined> {
  const m = await conn.exec(sh('cat', `${SHARED_ROOT}/manifest.json`));
  if (m.code !== 0) return undefined;
  try {
    return JSON.parse(m.stdout) as Record<string, unknown>;
  } catch {
    throw new VlxError('internal', `${SHARED_ROOT}/manifest.json on node ${conn.name} is not valid JSON`);
  }
}

/**
 * Put the cluster database on its members (the report's `setup.sh -n 2 -p 5432`, made highly
 * available): etcd and Patroni on each, PostgreSQL under Patroni with a synchronous standby,
 * a role whose password only this app's config holds, migrations, and the members recorded
 * in the manifest. Every step checks before acting, so a re-run on a running cluster changes
 * nothing and keeps the password.
 */
export async function deployDatabase(session: ClusterSession, opts: DeployOptions): Promise<DbEndpoint> {
  const nodeNames = checkMembers(opts.nodes);
  const port = opts.port === undefined ? DEFAULT_DB_PORT : checkInt(opts.port, 'port', 1, 65535);
  const extra = (opts.allow ?? []).map((c) => checkCidr(c, 'allow'));
  const report = (step: DeployStep, note: string): void => {
    opts.onProgress?.({ step, index: DEPLOY_STEPS.indexOf(step) + 1, total: DEPLOY_STEPS.length, note });
  };

  const conns = await Promise.all(nodeNames.map((n) => session.node(n)));
  const manifest = await readManifest(conns[0]!);
  const cluster = findCluster(loadStore(), session.config.name) ?? session.config;
  const clusterNet = typeof manifest?.clusterNetwork === 'string' ? checkCidr(manifest.clusterNetwork, 'manifest clusterNetwork') : undefined;
  const ha = await setupHaMembers({
    cluster: session.config.name, conns, port, tls: TLS, dbName: DB_NAME, appRole: DB_ROLE,
    ...(cluster.db?.tlsCert ? { pinned: cluster.db.tlsCert } : {}),
    ...(cluster.db?.haTls ? { pinnedHa: cluster.db.haTls } : {}),
    ...(cluster.db ? { seed: cluster.db.node } : {}),
    allow: (probes) => {
      const client = probes.find((p) => p.client)?.client;
      return [
        ...(clusterNet ? [clusterNet] : probes.filter((p) => isIPv4(p.conn.address)).map((p) => `${p.conn.address}/32`)),
        ...(client && !(clusterNet && sameNet(client, clusterNet)) ? [`${client}/32`] : []),
        ...extra,
      ];
    },
    report: (note) => report('members', note),
  });
  const primary = ha.probes.find((p) => p.conn.name === ha.primary)!;
  report('members', `primary ${ha.primary}; TLS certificate SHA-256 ${certFingerprint(ha.cert)} on every member`);

  report('role', `role ${DB_ROLE} and database ${DB_NAME}`);
  const known = cluster.db && cluster.db.port === port && LOGIN_ROLE.test(cluster.db.user) ? cluster.db : undefined;
  // The certificate just read over SSH (host key checked) is the one pinned from now on.
  const endpoint: DbEndpoint = {
    node: ha.primary, host: primary.conn.address, port, database: DB_NAME,
    user: known?.user ?? newLoginRole(), password: known?.password ?? newDbPassword(), tlsCert: ha.cert,
    members: ha.members.map((m) => ({ node: m.node, host: m.address })),
    haTls: ha.haTls,
  };
  if (known?.tlsCert && known.tlsCert !== ha.cert) {
    report('role', `the cluster certificate is not the one pinned before (was SHA-256 ${certFingerprint(known.tlsCert)}): pinning the new one`);
  }
  const loginError = await canLogin(endpoint, session.config.name);
  if (loginError && loginError.code === 'unreachable') {
    throw new VlxError('unreachable', `PostgreSQL runs on ${ha.primary} but this workstation cannot reach ${primary.conn.address}:${port}: ${loginError.message}`,
      'check the route and any firewall between this machine and the node');
  }
  if (loginError) {
    // Unknown role, lost password or missing database: set them as the superuser over SSH.
    // Only the SCRAM verifier travels; the password itself stays on this workstation.
    await primary.conn.run(psqlScript(primary.bin, port), { stdin: roleSql(endpoint.user, scramVerifier(endpoint.password)) });
    const again = await canLogin(endpoint, session.config.name);
    if (again) throw again;
    report('role', `login role ${endpoint.user} for this workstation`);
  }
  // Stored before anything else can fail: a password known only to a lost process would be useless.
  const latest = findCluster(loadStore(), session.config.name);
  if (latest) {
    if (JSON.stringify(latest.db) !== JSON.stringify(endpoint)) putCluster({ ...latest, db: endpoint });
  } else {
    putCluster({ ...session.config, db: endpoint });
  }

  report('migrate', 'applying migrations');
  const db = openDb(endpoint, { cluster: session.config.name });
  try {
    const r = await migrate(db);
    report('migrate', r.applied.length ? `applied ${r.applied.join(', ')}` : 'schema up to date');
  } finally {
    await db.close();
  }

  if (manifest) {
    const want = { node: ha.primary, host: primary.conn.address, port, members: endpoint.members };
    const had = manifest.db as { members?: unknown } | undefined;
    // The primary moves by itself; only a change of members (or port) is news for the manifest.
    if (JSON.stringify(had?.members) !== JSON.stringify(want.members) || (had as { port?: number } | undefined)?.port !== port) {
      const next = JSON.stringify({ ...manifest, db: want }, null, 2) + '\n';
      const file = `${SHARED_ROOT}/manifest.json`;
      await conns[0]!.run(`cat > ${sh(`${file}.vlx-tmp`)} && mv ${sh(`${file}.vlx-tmp`, file)}`, { stdin: next });
      report('record', `members ${nodeNames.join(', ')} recorded in the manifest`);
    } else {
      report('record', 'manifest already up to date');
    }
  } else {
    report('record', `no ${SHARED_ROOT}/manifest.json on ${nodeNames[0]}: endpoint kept in this workstation's config only`);
  }
  return endpoint;
}

async function canLogin(endpoint: DbEndpoint, cluster: string): Promise<VlxError | undefined> {
  const db = openDb(endpoint, { max: 1, connectTimeoutMs: 5000, cluster });
  try {
    await db.query('select 1');
    return undefined;
  } catch (e) {
    return e as VlxError;
  } finally {
    await db.close();
  }
}
