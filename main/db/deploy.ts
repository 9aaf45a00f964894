import { randomBytes } from 'node:crypto';
import { VlxError } from '../errors.js';
import { findCluster, loadStore, putCluster, type DbEndpoint } from '../config/clusters.js';
import { NODE_LIB, SHARED_ROOT } from '../config/paths.js';
import type { ClusterSession } from '../ssh/session.types.js';
import type { NodeConn } from '../ssh/types.js';
import { sh } from '../util/quote.js';
import { checkInt, checkName, isIPv4 } from '../util/names.js';
import { openDb } from './client.js';
import { migrate } from './migrate.js';
import { parsePidFileCheck, parseServerCert, pidFileCheckScript, serverCertScript, type TlsPaths } from './nodeScripts.js';
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

/** Everything PostgreSQL owns on a node lives here (node-private, survives reboots). */
export const PG_ROOT = `${NODE_LIB}/pg`;
const DATA = `${PG_ROOT}/data`;
// On the node's /run (a tmpfs, empty after a reboot): a socket lock file left by a power cut
// names a pid that may be alive again by then, and PostgreSQL would refuse to start. A
// directory of its own: a distribution cluster may use /run/postgresql itself.
const SOCKETS = '/run/postgresql/vlx';
const LOG = `${PG_ROOT}/log/postgresql.log`;
// Written after initdb succeeded: a data dir without it is the debris of an interrupted initdb.
const INIT_DONE = `${PG_ROOT}/initdb.done`;
// Outside the data dir: a re-initialised database keeps the certificate workstations pinned.
export const TLS: TlsPaths = { dir: `${PG_ROOT}/tls`, cert: `${PG_ROOT}/tls/server.crt`, key: `${PG_ROOT}/tls/server.key` };

export const DEPLOY_STEPS = ['probe', 'initdb', 'configure', 'start', 'role', 'migrate', 'record'] as const;
export type DeployStep = (typeof DEPLOY_STEPS)[number];

export interface DeployProgress {
  step: DeployStep;
  index: number;
  total: number;
  note: string;
}

export interface DeployOptions {
  node: string;
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

/** postgresql.conf additions: pure, so what a deploy writes is tested without a node. */
export function renderPgConf(o: { address: string; port: number }): string {
  return [
    '# Written by `vlx db deploy`; replaced on every deploy.',
    `listen_addresses = '${o.address},localhost'`,
    `port = ${o.port}`,
    // node-private, so several lab nodes sharing the host's /run cannot collide on the socket
    `unix_socket_directories = '${SOCKETS}'`,
    `password_encryption = scram-sha-256`,
    // a workstation that vanishes must not hold its VC locks for hours
    'tcp_keepalives_idle = 30',
    'tcp_keepalives_interval = 10',
    'tcp_keepalives_count = 3',
    'max_connections = 200',
    // Every connection but the local socket is TLS (pg_hba has hostssl lines only).
    'ssl = on',
    `ssl_cert_file = '${TLS.cert}'`,
    `ssl_key_file = '${TLS.key}'`,
    "ssl_min_protocol_version = 'TLSv1.2'",
    '',
  ].join('\n');
}

/**
 * pg_hba.conf: the superuser only through the local socket (peer), members of the app role
 * with SCRAM from the allowed networks, over TLS only (`hostssl`: a plain connection matches no line).
 */
export function renderPgHba(allow: string[]): string {
  const uniq = [...new Set(allow)];
  return [
    '# Written by `vlx db deploy`; replaced on every deploy.',
    'local   all          all                   peer',
    'hostssl all          all   127.0.0.1/32    scram-sha-256',
    ...uniq.map((net) => `hostssl ${DB_NAME}  +${DB_ROLE}  ${net.padEnd(15)} scram-sha-256`),
    '',
  ].join('\n');
}

/** Replace a file as the postgres user only when its content changed; prints "changed" or "same". */
function writeIfChanged(path: string): string {
  const script = 'umask 077; t="$1.vlx-tmp"; cat > "$t" || exit 1; if cmp -s "$t" "$1"; then rm -f "$t"; echo same; else mv "$t" "$1"; echo changed; fi';
  return sh('runuser', '-u', 'postgres', '--', 'sh', '-c', script, 'sh', path);
}

function asPostgres(...argv: string[]): string {
  return sh('runuser', '-u', 'postgres', '--', ...argv);
}

/** postgres must be able to walk to its directories; node-private mounts may be 0700 root. */
function walkable(dir: string): string[] {
  const parents = dir.split('/').slice(1, -1).map((_, i, a) => '/' + a.slice(0, i + 1).join('/'));
  return parents.map((d) => `{ ${asPostgres('test', '-x', d)} || ${sh('chmod', 'o+x', d)}; }`);
}

interface Probe {
  bin: string;
  client?: string;
  manifest?: Record<string, unknown>;
}

async function probe(conn: NodeConn): Promise<Probe> {
  const script = [
    'bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)',
    'echo "bin=$bin"',
    'echo "client=${SSH_CLIENT%% *}"',
    'id -u postgres >/dev/null 2>&1 && echo "user=postgres"',
    'command -v openssl >/dev/null 2>&1 && echo "openssl=yes"',
    'true',
  ].join('\n');
  const out = await conn.run(script);
  const kv = Object.fromEntries(out.split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  if (!kv.bin || kv.user !== 'postgres') {
    throw new VlxError('missing-tool', `node ${conn.name} has no PostgreSQL server (looked in /usr/lib/postgresql/*/bin)`,
      `install it on the node: apt-get install postgresql`);
  }
  if (kv.openssl !== 'yes') {
    throw new VlxError('missing-tool', `node ${conn.name} has no openssl (needed to make the database's TLS certificate)`, 'install it on the node: apt-get install openssl');
  }
  const m = await conn.exec(sh('cat', `${SHARED_ROOT}/manifest.json`));
  let manifest: Record<string, unknown> | undefined;
  if (m.code === 0) {
    try {
      manifest = JSON.parse(m.stdout) as Record<string, unknown>;
    } catch {
      throw new VlxError('internal', `${SHARED_ROOT}/manifest.json on node ${conn.name} is not valid JSON`);
    }
  }
  return { bin: kv.bin, ...(kv.client && isIPv4(kv.client) ? { client: kv.client } : {}), ...(manifest ? { manifest } : {}) };
}

function sameNet(ip: string, cidr: string): boolean {
  const toInt = (a: string) => a.split('.').reduce((n, o) => (n << 8) + Number(o), 0) >>> 0;
  const [net, len] = cidr.split('/');
  const mask = Number(len) === 0 ? 0 : (~0 << (32 - Number(len))) >>> 0;
  return ((toInt(ip) & mask) >>> 0) === ((toInt(net) & mask) >>> 0);
}

/**
 * Put the cluster database on a node (the report's `setup.sh -n 2 -p 5432`): initdb, listen
 * on the node's address, a role whose password only this app's config holds, migrations, and
 * the endpoint recorded in the manifest. Every step checks before acting, so a re-run on a
 * running database changes nothing and keeps the password.
 */
export async function deployDatabase(session: ClusterSession, opts: DeployOptions): Promise<DbEndpoint> {
  const nodeName = checkName('node', opts.node, 'node');
  const port = opts.port === undefined ? DEFAULT_DB_PORT : checkInt(opts.port, 'port', 1, 65535);
  const extra = (opts.allow ?? []).map((c) => checkCidr(c, 'allow'));
  const report = (step: DeployStep, note: string): void => {
    opts.onProgress?.({ step, index: DEPLOY_STEPS.indexOf(step) + 1, total: DEPLOY_STEPS.length, note });
  };

  const conn = await session.node(nodeName);
  report('probe', `looking for PostgreSQL on ${nodeName}`);
  const p = await probe(conn);
  const bin = (tool: string) => `${p.bin}/${tool}`;

  report('initdb', 'checking the data directory');
  const inited = await conn.exec(sh('test', '-f', INIT_DONE));
  if (inited.code !== 0) {
    // postgres must be able to walk to its data dir; the node-private mount may be 0700 root.
    const prepare = [
      ...walkable(PG_ROOT),
      sh('mkdir', '-p', PG_ROOT, `${PG_ROOT}/log`, SOCKETS),
      sh('chown', 'postgres:postgres', PG_ROOT, `${PG_ROOT}/log`, SOCKETS),
      sh('chmod', '0700', PG_ROOT),
      sh('rm', '-rf', DATA),
    ].join(' && ');
    await conn.run(prepare);
    report('initdb', 'initdb (a few seconds)');
    // The superuser password goes through a pipe, never a command line; nobody keeps it:
    // the superuser is reachable only through the local socket (peer).
    await conn.run(asPostgres('sh', '-c',
      'cat | exec "$0" -D "$1" --auth-host=scram-sha-256 --auth-local=peer -U postgres --pwfile=/dev/stdin -E UTF8 --no-locale',
      bin('initdb'), DATA), { stdin: randomBytes(24).toString('base64url') + '\n', timeoutMs: 120_000 });
    await conn.run(sh('touch', INIT_DONE));
  } else {
    report('initdb', 'already initialised');
  }

  report('configure', 'postgresql.conf and pg_hba.conf');
  await conn.run([sh('mkdir', '-p', `${PG_ROOT}/log`, SOCKETS), ...walkable(SOCKETS), sh('chown', 'postgres:postgres', `${PG_ROOT}/log`, SOCKETS)].join(' && '));
  const clusterNet = typeof p.manifest?.clusterNetwork === 'string' ? checkCidr(p.manifest.clusterNetwork, 'manifest clusterNetwork') : undefined;
  const allow = [
    ...(clusterNet ? [clusterNet] : isIPv4(conn.address) ? [`${conn.address}/32`] : []),
    ...(p.client && !(clusterNet && sameNet(p.client, clusterNet)) ? [`${p.client}/32`] : []),
    ...extra,
  ];
  const cert = parseServerCert(await conn.run(serverCertScript(TLS, `vlx-db ${nodeName}`)));
  report('configure', `TLS certificate ${cert.made ? 'made' : 'kept'} (SHA-256 ${certFingerprint(cert.pem)})`);
  const confChanged = (await conn.run(writeIfChanged(`${DATA}/vlx.conf`), { stdin: renderPgConf({ address: conn.address, port }) })).trim() === 'changed';
  const hbaChanged = (await conn.run(writeIfChanged(`${DATA}/pg_hba.conf`), { stdin: renderPgHba(allow) })).trim() === 'changed';
  await conn.run(`grep -qx ${sh("include_if_exists = 'vlx.conf'")} ${sh(`${DATA}/postgresql.conf`)} || `
    + `echo ${sh("include_if_exists = 'vlx.conf'")} >> ${sh(`${DATA}/postgresql.conf`)}`);

  // Not `pg_ctl status`: it trusts a pid file whose pid another process may have by now.
  const pidFile = parsePidFileCheck(await conn.run(pidFileCheckScript(DATA, SOCKETS)));
  const pgctl = (...args: string[]) => asPostgres(bin('pg_ctl'), '-D', DATA, '-l', LOG, '-w', '-t', '60', ...args);
  if (pidFile.state !== 'running') {
    const stale = pidFile.state === 'stale' ? ` (removed a stale postmaster.pid: pid ${pidFile.pid ?? '?'} is no postmaster of ${DATA})` : '';
    report('start', `starting PostgreSQL on ${conn.address}:${port}${stale}`);
    await conn.run(pgctl('start'), { timeoutMs: 90_000 });
  } else if (confChanged) {
    report('start', 'restarting PostgreSQL for the new settings');
    await conn.run(pgctl('-m', 'fast', 'restart'), { timeoutMs: 90_000 });
  } else if (hbaChanged || cert.made) {
    report('start', 'reloading the access rules');
    await conn.run(asPostgres(bin('pg_ctl'), '-D', DATA, 'reload'));
  } else {
    report('start', 'already running');
  }

  report('role', `role ${DB_ROLE} and database ${DB_NAME}`);
  const cluster = findCluster(loadStore(), session.config.name) ?? session.config;
  const known = cluster.db && cluster.db.node === nodeName && cluster.db.port === port && LOGIN_ROLE.test(cluster.db.user) ? cluster.db : undefined;
  // The certificate just read over SSH (host key checked) is the one pinned from now on.
  const endpoint: DbEndpoint = {
    node: nodeName, host: conn.address, port, database: DB_NAME,
    user: known?.user ?? newLoginRole(), password: known?.password ?? newDbPassword(), tlsCert: cert.pem,
  };
  if (known?.tlsCert && known.tlsCert !== cert.pem) {
    report('role', `the certificate of ${nodeName} is not the one pinned before (was SHA-256 ${certFingerprint(known.tlsCert)}): pinning the new one`);
  }
  const loginError = await canLogin(endpoint, session.config.name);
  if (loginError && loginError.code === 'unreachable') {
    throw new VlxError('unreachable', `PostgreSQL runs on ${nodeName} but this workstation cannot reach ${conn.address}:${port}: ${loginError.message}`,
      'check the route and any firewall between this machine and the node');
  }
  if (loginError) {
    // Unknown role, lost password or missing database: set them as the superuser over SSH.
    // Only the SCRAM verifier travels; the password itself stays on this workstation.
    await conn.run(asPostgres(bin('psql'), '-h', SOCKETS, '-p', String(port), '-d', 'postgres', '-v', 'ON_ERROR_STOP=1', '-Atq', '-f', '-'),
      { stdin: roleSql(endpoint.user, scramVerifier(endpoint.password)) });
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

  if (p.manifest) {
    const want = { node: nodeName, host: conn.address, port };
    if (JSON.stringify(p.manifest.db) !== JSON.stringify(want)) {
      const next = JSON.stringify({ ...p.manifest, db: want }, null, 2) + '\n';
      const file = `${SHARED_ROOT}/manifest.json`;
      await conn.run(`cat > ${sh(`${file}.vlx-tmp`)} && mv ${sh(`${file}.vlx-tmp`, file)}`, { stdin: next });
      report('record', `endpoint ${conn.address}:${port} recorded in the manifest`);
    } else {
      report('record', 'manifest already up to date');
    }
  } else {
    report('record', `no ${SHARED_ROOT}/manifest.json on ${nodeName}: endpoint kept in this workstation's config only`);
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
