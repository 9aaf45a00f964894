import { NODE_LIB, NODE_RUN } from '../domain/nodePaths.js';

/**
 * What the highly available database writes on its members: Patroni's and etcd's
 * configuration and their systemd units, as pure functions so every byte is tested without a
 * node. Patroni and etcd read YAML; JSON is YAML, so the configs are rendered with
 * JSON.stringify and no quoting can go wrong.
 */

export const PG_ROOT = `${NODE_LIB}/pg`;
export const PG_DATA = `${PG_ROOT}/data`;
// A directory of its own on the node's tmpfs /run: a distribution cluster may use /run/postgresql.
export const PG_SOCKETS = '/run/postgresql/vlx';
export const PATRONI_CONF = `${PG_ROOT}/patroni.yml`;
export const PATRONI_LOG = `${PG_ROOT}/log/patroni.log`;
/** The cluster's shared secrets (superuser, replication, REST), the same on every member; 0600 postgres. */
export const HA_SECRETS = `${PG_ROOT}/secrets.json`;
export const ETCD_ROOT = `${NODE_LIB}/etcd`;
/**
 * The TLS cluster's data. A deploy from before TLS kept a plain-HTTP etcd's data in etcd/data;
 * it is left there untouched (its membership names http:// peers, which no TLS member can join).
 */
export const ETCD_DATA = `${ETCD_ROOT}/data-tls`;
export const ETCD_CONF = `${ETCD_ROOT}/etcd.yml`;
export const ETCD_LOG = `${ETCD_ROOT}/etcd.log`;
export const PATRONI_PID = `${NODE_RUN}/patroni.pid`;
export const ETCD_PID = `${NODE_RUN}/etcd.pid`;

export const PATRONI_PORT = 8008;
export const ETCD_CLIENT_PORT = 2379;
export const ETCD_PEER_PORT = 2380;
/** etcd's quorum is itself master-less: every member up to five runs it (more only slows its writes). */
export const MAX_ETCD = 5;
export const ETCD_PREFIX = '/vlx/';

/**
 * The cluster CA's files on a member. PostgreSQL's own certificate is pinned as itself (no CA);
 * etcd and Patroni need a CA, as they check each other both ways: each member has one
 * certificate (server and client, for its address and 127.0.0.1) signed by the cluster CA,
 * Patroni's copy owned by postgres, etcd's by etcd. The CA key is root's alone.
 */
export const HA_TLS_DIR = `${PG_ROOT}/tls`;
export const HA_TLS = {
  ca: `${HA_TLS_DIR}/ca.crt`,
  caKey: `${HA_TLS_DIR}/ca.key`,
  cert: `${HA_TLS_DIR}/member.crt`,
  key: `${HA_TLS_DIR}/member.key`,
  etcdDir: `${ETCD_ROOT}/tls`,
  etcdCa: `${ETCD_ROOT}/tls/ca.crt`,
  etcdCert: `${ETCD_ROOT}/tls/member.crt`,
  etcdKey: `${ETCD_ROOT}/tls/member.key`,
} as const;

/**
 * Failure detection, measured on the lab (Patroni 3.0.2, etcd 3.4.23) from the primary's crash:
 * - its leader key expires when its lease does: ttl after its last renewal (every loop_wait),
 *   seen by the standbys at once (they watch it);
 * - when the crashed node also led etcd, the survivors first elect a leader (one to two
 *   election timeouts) and the new leader restores every lease with its full TTL plus one
 *   election timeout (etcd's lessor Promote): with ttl 10 the key went 12.4 s after the crash;
 * - the sync standby then asks the last primary's REST API for its position before promoting,
 *   with a connect timeout of 2 s written into Patroni (ha.py fetch_node_status): a dead node
 *   costs all of it on every failover;
 * - promotion itself: 0.1–0.2 s; the app writes on the new primary 0–0.3 s later (primary.ts);
 * - a standby whose etcd watch was on the crashed node sees the key go only when TCP drops that
 *   watch (Patroni arms keepalives with a user timeout of ttl). Patroni means to drop it when it
 *   switches etcd member, but python-etcd puts pyOpenSSL under urllib3 and its socket's
 *   shutdown() takes no argument (patroni#3420): with TLS that attempt fails, silently. When
 *   the sync standby's watch is the one: about 3 s more (seen once in 12 crashes).
 * ttl 5 puts a promotion at 5 + 2.2 s, or 0.5–1 + 0.5 + 5 + 2.2 s when etcd's leader died too,
 * both under 10 s. Patroni needs loop_wait + 2 × retry_timeout ≤ ttl; retry_timeout 2 is two
 * etcd members tried for 1 s each. (Later Patroni releases document minimums of ttl 20 and
 * retry_timeout 3: these values are for the 3.0 of Debian 12.)
 */
export const HA_TIMING = { ttl: 5, loop_wait: 1, retry_timeout: 2 } as const;
/** Seconds between a watchdog's reset of a hung primary and its leader key's expiry (see renderPatroniConf). */
export const WATCHDOG_SAFETY_MARGIN = 2;

/**
 * etcd's Raft timing on a LAN: a heartbeat every 50 ms, a new leader after 500 ms of silence
 * (ten heartbeats, as etcd's tuning guide asks, and hundreds of LAN round trips). Half the
 * defaults halve what a crashed etcd leader adds to a failover (above).
 */
export const ETCD_TIMING = { heartbeatMs: 50, electionMs: 500 } as const;

export interface HaMember {
  node: string;
  address: string;
}

export interface HaSecrets {
  superuser: string;
  replication: string;
  rest: string;
}

export function parseSecrets(text: string): HaSecrets | undefined {
  try {
    const o = JSON.parse(text) as Record<string, unknown>;
    const ok = (v: unknown): v is string => typeof v === 'string' && /^[A-Za-z0-9_-]{20,}$/.test(v);
    return ok(o.superuser) && ok(o.replication) && ok(o.rest) ? { superuser: o.superuser, replication: o.replication, rest: o.rest } : undefined;
  } catch {
    return undefined;
  }
}

/** The Patroni scope (cluster name in etcd): one per vlx cluster, so two clusters can share nothing by mistake. */
export function haScope(cluster: string): string {
  return `vlx-${cluster.replace(/[^A-Za-z0-9_-]/g, '_')}`;
}

/** Members that run etcd: the first five DB members. */
export function etcdMembers(members: readonly HaMember[]): HaMember[] {
  return members.slice(0, MAX_ETCD);
}

export interface EtcdConfInput {
  cluster: string;
  self: HaMember;
  members: readonly HaMember[];
  /** 'existing' when this member joins a running etcd cluster (after `etcdctl member add`). */
  state: 'new' | 'existing';
}

/**
 * etcd's config file (etcd --config-file). Clients and peers speak TLS only and must show a
 * certificate of the cluster CA: a tenant VM that reaches the port gets nothing.
 */
export function renderEtcdConf(o: EtcdConfInput): string {
  const peer = (m: HaMember) => `https://${m.address}:${ETCD_PEER_PORT}`;
  const tls = { 'cert-file': HA_TLS.etcdCert, 'key-file': HA_TLS.etcdKey, 'trusted-ca-file': HA_TLS.etcdCa, 'client-cert-auth': true };
  return JSON.stringify({
    name: o.self.node,
    'data-dir': ETCD_DATA,
    'listen-client-urls': `https://${o.self.address}:${ETCD_CLIENT_PORT},https://127.0.0.1:${ETCD_CLIENT_PORT}`,
    'advertise-client-urls': `https://${o.self.address}:${ETCD_CLIENT_PORT}`,
    'listen-peer-urls': peer(o.self),
    'initial-advertise-peer-urls': peer(o.self),
    'initial-cluster': etcdMembers(o.members).map((m) => `${m.node}=${peer(m)}`).join(','),
    'initial-cluster-token': `vlx-${o.cluster}`,
    'initial-cluster-state': o.state,
    'client-transport-security': tls,
    'peer-transport-security': tls,
    'heartbeat-interval': ETCD_TIMING.heartbeatMs,
    'election-timeout': ETCD_TIMING.electionMs,
    // A member that was cut off and comes back asks first whether it could win before it
    // starts an election: it does not depose a leader that everyone else still hears.
    'pre-vote': true,
    'enable-v2': false,
    // Flags default it on; a config file does not: Patroni and the app use the JSON gateway.
    'enable-grpc-gateway': true,
  }, null, 2) + '\n';
}

export interface PatroniConfInput {
  cluster: string;
  self: HaMember;
  members: readonly HaMember[];
  port: number;
  /** PostgreSQL's bin directory on the node (/usr/lib/postgresql/15/bin). */
  binDir: string;
  secrets: HaSecrets;
  /** Networks whose app logins are allowed (hostssl, SCRAM). */
  allow: readonly string[];
  tls: { cert: string; key: string };
}

/**
 * pg_hba: the superuser only through the local socket (peer) and, for pg_rewind, from the
 * other members; replication only between members; app logins from the allowed networks.
 * Every TCP line is hostssl: a plain connection matches none.
 */
export function haPgHba(members: readonly HaMember[], allow: readonly string[], dbName: string, appRole: string): string[] {
  const hosts = [...new Set(members.map((m) => `${m.address}/32`))];
  return [
    'local   all          all                   peer',
    'hostssl all          all   127.0.0.1/32    scram-sha-256',
    // Patroni asks its own server for timeline and position over a replication connection
    'hostssl replication  replicator  127.0.0.1/32       scram-sha-256',
    ...hosts.map((h) => `hostssl replication  replicator  ${h.padEnd(18)} scram-sha-256`),
    ...hosts.map((h) => `hostssl postgres     postgres    ${h.padEnd(18)} scram-sha-256`),
    ...[...new Set(allow)].map((net) => `hostssl ${dbName}  +${appRole}  ${net.padEnd(18)} scram-sha-256`),
    // the nodes' self-fencing watchdogs (main/ha): each may only renew its own node's lease
    ...[...new Set(allow)].map((net) => `hostssl ${dbName}  +${WATCHDOG_GROUP}  ${net.padEnd(18)} scram-sha-256`),
  ];
}

/** The group of the nodes' watchdog roles (main/ha/watchdogDeploy.ts): no right but vlx_watchdog_renew. */
export const WATCHDOG_GROUP = 'vlx_watchdog';

/**
 * The cluster-wide settings Patroni keeps in etcd. bootstrap.dcs applies only when the
 * cluster is made, so a deploy also applies it to a running cluster (patronictl edit-config).
 */
export function dcsConfig(): Record<string, unknown> {
  return {
    ...HA_TIMING,
    maximum_lag_on_failover: 1048576,
    // Commit waits for one standby; Patroni promotes only that standby. Not strict: when
    // no standby is left the primary keeps taking writes (a one- or two-node lab must),
    // and no write acknowledged while a sync standby existed can be lost by one failure.
    synchronous_mode: true,
    synchronous_mode_strict: false,
    synchronous_node_count: 1,
    postgresql: {
      use_pg_rewind: true,
      use_slots: true,
      parameters: {
        max_connections: 200,
        wal_log_hints: 'on',
        wal_keep_size: '128MB',
        max_wal_senders: 10,
        max_replication_slots: 10,
        hot_standby: 'on',
        // A standby whose node died must stop holding up synchronous commits soon, so
        // Patroni can name another one (the default waits 60 s).
        wal_sender_timeout: '5s',
        wal_receiver_timeout: '5s',
      },
    },
  };
}

export function renderPatroniConf(o: PatroniConfInput, dbName: string, appRole: string): string {
  const etcd = etcdMembers(o.members);
  const conf = {
    scope: haScope(o.cluster),
    namespace: ETCD_PREFIX,
    name: o.self.node,
    log: { level: 'INFO' },
    restapi: {
      // HTTPS, and only for a certificate of the cluster CA: the members (which compare their
      // WAL positions here before a promotion, with this same certificate as client) and the
      // workstations. Anything that changes state also needs the password.
      listen: `${o.self.address}:${PATRONI_PORT}`,
      connect_address: `${o.self.address}:${PATRONI_PORT}`,
      certfile: HA_TLS.cert,
      keyfile: HA_TLS.key,
      cafile: HA_TLS.ca,
      verify_client: 'required',
      authentication: { username: 'patroni', password: o.secrets.rest },
    },
    etcd3: {
      hosts: etcd.map((m) => `${m.address}:${ETCD_CLIENT_PORT}`), protocol: 'https',
      cacert: HA_TLS.ca, cert: HA_TLS.cert, key: HA_TLS.key,
    },
    bootstrap: {
      dcs: dcsConfig(),
      initdb: [{ encoding: 'UTF8' }, 'no-locale', { 'auth-host': 'scram-sha-256' }, { 'auth-local': 'peer' }],
    },
    postgresql: {
      listen: `${o.self.address},127.0.0.1:${o.port}`,
      connect_address: `${o.self.address}:${o.port}`,
      data_dir: PG_DATA,
      bin_dir: o.binDir,
      pgpass: `${PG_ROOT}/pgpass`,
      use_unix_socket: true,
      authentication: {
        superuser: { username: 'postgres', password: o.secrets.superuser },
        replication: { username: 'replicator', password: o.secrets.replication, sslmode: 'require' },
        rewind: { username: 'postgres', password: o.secrets.superuser, sslmode: 'require' },
      },
      parameters: {
        unix_socket_directories: PG_SOCKETS,
        password_encryption: 'scram-sha-256',
        // a workstation that vanishes must not hold its VC locks for hours
        tcp_keepalives_idle: 30,
        tcp_keepalives_interval: 10,
        tcp_keepalives_count: 3,
        ssl: 'on',
        ssl_cert_file: o.tls.cert,
        ssl_key_file: o.tls.key,
        ssl_min_protocol_version: 'TLSv1.2',
      },
      pg_hba: haPgHba(o.members, o.allow, dbName, appRole),
    },
    // Where the node has a watchdog device Patroni arms it to reset a primary whose Patroni
    // hangs, ttl − safety_margin after its last loop: before its leader key can expire. The
    // default margin (5 s) leaves no time at ttl 5, and Patroni would say so every loop.
    watchdog: { mode: 'automatic', safety_margin: WATCHDOG_SAFETY_MARGIN },
    tags: { nofailover: false, noloadbalance: false, clonefrom: false, nosync: false },
  };
  return JSON.stringify(conf, null, 2) + '\n';
}

/** systemd units for real nodes (the lab has no init system: it starts the same commands itself). */
export function renderEtcdUnit(): string {
  return [
    '[Unit]', 'Description=etcd for the VirtuaLinux cluster database', 'After=network-online.target', 'Wants=network-online.target', '',
    '[Service]', 'Type=notify', 'User=etcd', `ExecStart=/usr/bin/etcd --config-file ${ETCD_CONF}`, 'Restart=always', 'RestartSec=2s', 'LimitNOFILE=65536', '',
    '[Install]', 'WantedBy=multi-user.target', '',
  ].join('\n');
}

export function renderPatroniUnit(): string {
  return [
    '[Unit]', 'Description=Patroni for the VirtuaLinux cluster database', 'After=network-online.target vlx-etcd.service', 'Wants=network-online.target', '',
    '[Service]', 'Type=simple', 'User=postgres', 'Group=postgres',
    'RuntimeDirectory=postgresql/vlx', 'RuntimeDirectoryMode=2775', 'RuntimeDirectoryPreserve=yes',
    `ExecStart=/usr/bin/patroni ${PATRONI_CONF}`, 'ExecReload=/bin/kill -s HUP $MAINPID',
    // only Patroni itself: it stops PostgreSQL cleanly on its way out
    'KillMode=process', 'TimeoutSec=60', 'Restart=on-failure', '',
    '[Install]', 'WantedBy=multi-user.target', '',
  ].join('\n');
}
