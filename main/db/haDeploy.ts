import { randomBytes } from 'node:crypto';
import { VlxError } from '../errors.js';
import type { NodeConn } from '../ssh/types.js';
import { sh } from '../util/quote.js';
import { isIPv4 } from '../util/names.js';
import {
  dcsConfig, ETCD_CONF, ETCD_DATA, ETCD_PEER_PORT, ETCD_PREFIX, HA_SECRETS, PATRONI_CONF, PATRONI_PID, PG_SOCKETS, etcdMembers, haScope,
  parseSecrets, renderEtcdConf, renderEtcdUnit, renderPatroniConf, renderPatroniUnit, type HaMember, type HaSecrets,
} from './haConfig.js';
import {
  etcdctl, etcdGetScript, memberProbeScript, moveAsideScript, pgStateScript, prepareDirsScript, retireStandaloneScript, startEtcdScript,
  startPatroniScript, stopDaemonScript, writeIfChangedScript,
} from './haScripts.js';
import { etcdHealth, memberStatuses, recordedSyncStandby, type HaClientTls, type MemberStatus } from './haStatus.js';
import { ensureHaCerts } from './haTls.js';
import { scramVerifier } from './scram.js';
import { serverCertScript, parseServerCert, type TlsPaths } from './nodeScripts.js';

/**
 * Bring up the database members: etcd on up to five of them, Patroni on each, PostgreSQL
 * under Patroni with synchronous streaming replication. Every step checks first, so a re-run
 * on a running cluster only reads. The first member initialises once (or keeps the data of
 * the one-node database it replaces); the others are cloned by Patroni (pg_basebackup).
 */

export interface MemberProbe {
  conn: NodeConn;
  bin: string;
  client?: string;
  systemd: boolean;
  pgData: boolean;
  sysid?: string;
  etcdData: boolean;
  /** Its etcd was deployed before TLS (plain-HTTP peers). */
  etcdPlain: boolean;
  /** The cluster CA it holds, with its key. */
  haCa?: string;
  secrets?: HaSecrets;
  cert?: string;
  patroniPid?: number;
  etcdPid?: number;
}

export interface HaSetupOptions {
  cluster: string;
  conns: NodeConn[];
  port: number;
  allow: (probes: MemberProbe[]) => string[];
  tls: TlsPaths;
  /** The certificate this workstation pinned before: members keep it when one of them has it. */
  pinned?: string;
  /** The cluster CA and client certificate this workstation pinned before (kept while the members' CA is that one). */
  pinnedHa?: HaClientTls;
  /** The node whose data to keep when no cluster exists yet (the old one-node database). */
  seed?: string;
  dbName: string;
  appRole: string;
  report: (note: string) => void;
}

export interface HaSetup {
  members: HaMember[];
  primary: string;
  cert: string;
  /** For this workstation's calls to etcd and Patroni's REST API. */
  haTls: HaClientTls;
  probes: MemberProbe[];
}

const kv = (out: string): Record<string, string> =>
  Object.fromEntries(out.split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
const unb64 = (s: string | undefined): string | undefined => (s ? Buffer.from(s, 'base64').toString('utf8') : undefined);
const pid = (s: string | undefined): number | undefined => (s && /^\d+$/.test(s) ? Number(s) : undefined);

async function probeMember(conn: NodeConn, tls: TlsPaths): Promise<MemberProbe> {
  const o = kv(await conn.run(memberProbeScript(tls)));
  const missing = (what: string, pkg: string) => new VlxError('missing-tool', `node ${conn.name} has no ${what}`, `install it on the node: apt-get install ${pkg}`);
  if (!o.bin || o.user !== 'postgres') throw missing('PostgreSQL server (looked in /usr/lib/postgresql/*/bin)', 'postgresql');
  if (o.openssl !== 'yes') throw missing('openssl (needed for the database\'s TLS certificate)', 'openssl');
  if (o.patroni !== 'yes') throw missing('patroni', 'patroni');
  if (o.etcd !== 'yes' || o.etcduser !== 'etcd') throw missing('etcd server and client', 'etcd-server etcd-client');
  const secrets = o.secrets ? parseSecrets(unb64(o.secrets)!) : undefined;
  return {
    conn, bin: o.bin, ...(o.client && isIPv4(o.client) ? { client: o.client } : {}), systemd: o.systemd === 'yes',
    pgData: o.pgdata === 'yes', ...(o.sysid ? { sysid: o.sysid } : {}), etcdData: o.etcddata === 'yes',
    etcdPlain: o.etcdplain === 'yes', ...(o.haca ? { haCa: unb64(o.haca) } : {}),
    ...(secrets ? { secrets } : {}), ...(o.cert ? { cert: unb64(o.cert) } : {}),
    ...(pid(o.patronipid) ? { patroniPid: pid(o.patronipid) } : {}), ...(pid(o.etcdpid) ? { etcdPid: pid(o.etcdpid) } : {}),
  };
}

const secret = (): string => randomBytes(24).toString('base64url');

async function write(conn: NodeConn, path: string, owner: string, content: string): Promise<boolean> {
  return (await conn.run(writeIfChangedScript(path, owner), { stdin: content })).trim() === 'changed';
}

/** One cluster certificate on every member (the pin is the certificate, not a host name): made once, copied over SSH. */
async function clusterCert(o: HaSetupOptions, probes: MemberProbe[]): Promise<{ pem: string; renewed: MemberProbe[] }> {
  const source = probes.find((p) => p.cert && p.cert === o.pinned) ?? probes.find((p) => p.cert);
  let pem: string;
  let from: NodeConn;
  const renewed: MemberProbe[] = [];
  if (source) {
    pem = source.cert!;
    from = source.conn;
  } else {
    from = probes[0]!.conn;
    pem = parseServerCert(await from.run(serverCertScript(o.tls, `vlx-db ${o.cluster}`))).pem;
    o.report(`TLS certificate made on ${from.name}`);
    renewed.push(probes[0]!);
  }
  const others = probes.filter((p) => p.conn !== from && p.cert !== pem);
  if (others.length > 0) {
    // The key passes through this process's memory only, between two host-key-checked links.
    const key = await from.run(sh('cat', o.tls.key));
    for (const p of others) {
      await p.conn.run(sh('install', '-d', '-o', 'postgres', '-g', 'postgres', '-m', '0700', o.tls.dir));
      await write(p.conn, o.tls.key, 'postgres:postgres', key);
      await write(p.conn, o.tls.cert, 'postgres:postgres', pem);
      await p.conn.run(sh('chmod', '0644', o.tls.cert));
    }
    o.report(`cluster TLS certificate copied to ${others.map((p) => p.conn.name).join(', ')}`);
    renewed.push(...others);
  }
  return { pem, renewed };
}

async function waitFor<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>, detail: () => Promise<string>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new VlxError('timeout', `${what} (waited ${Math.round(timeoutMs / 1000)} s): ${await detail()}`, 'see the member logs under /var/lib/virtualinux/pg/log and /var/lib/virtualinux/etcd');
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The superuser's password (pg_rewind from the other members) and the replication role; only SCRAM verifiers travel. */
async function ensureClusterRoles(p: MemberProbe, port: number, secrets: HaSecrets): Promise<void> {
  const sql = [
    `alter role postgres password '${scramVerifier(secrets.superuser)}';`,
    `select 'create role replicator' where not exists (select 1 from pg_roles where rolname = 'replicator') \\gexec`,
    `alter role replicator replication login password '${scramVerifier(secrets.replication)}';`,
    '',
  ].join('\n');
  // Patroni alters the same roles once it has bootstrapped (its own post-bootstrap step), and two
  // ALTER ROLEs of one role at once make one fail with "tuple concurrently updated": ours goes again.
  for (let attempt = 1; ; attempt++) {
    try {
      await p.conn.run(psqlScript(p.bin, port), { stdin: sql });
      return;
    } catch (e) {
      if (attempt >= 5 || !/tuple concurrently updated/.test(String((e as { details?: { stderr?: string } }).details?.stderr ?? (e as Error).message))) throw e;
      await new Promise((r) => setTimeout(r, 500 * attempt));
    }
  }
}

/** psql as the superuser through the member's local socket (peer): the SQL comes on stdin. */
export function psqlScript(bin: string, port: number): string {
  return sh('runuser', '-u', 'postgres', '--', `${bin}/psql`, '-h', PG_SOCKETS, '-p', String(port), '-d', 'postgres', '-v', 'ON_ERROR_STOP=1', '-Atq', '-f', '-');
}

const describe = (ms: MemberStatus[]): string => ms.map((m) => `${m.node} ${m.role} (${m.state})`).join(', ');

/**
 * A restarted member is back in the quorum before the next one stops: restarting them one
 * after another without waiting would leave a majority down for a moment, the primary unable
 * to renew its leader key within retry_timeout, and a failover nobody asked for.
 */
async function etcdMemberBack(etcd: HaMember[], node: string, tls: HaClientTls): Promise<void> {
  await waitFor(`etcd on ${node} did not rejoin its cluster`, 30_000,
    async () => ((await etcdHealth(etcd, tls, 1000)).members.find((m) => m.node === node)?.healthy ? true : undefined),
    async () => JSON.stringify((await etcdHealth(etcd, tls, 1000)).members));
}

async function startEtcd(o: HaSetupOptions, probes: MemberProbe[], members: HaMember[], tls: HaClientTls, certsChanged: Set<string>): Promise<void> {
  const etcd = etcdMembers(members);
  const onEtcd = probes.filter((p) => etcd.some((m) => m.node === p.conn.name));
  const existing = onEtcd.some((p) => p.etcdData);
  for (const p of onEtcd) {
    const self = etcd.find((m) => m.node === p.conn.name)!;
    // A member joining a running etcd cluster is announced first, then starts as "existing".
    const joining = existing && !p.etcdData;
    if (joining) {
      const peer = onEtcd.find((x) => x.etcdData)!;
      await peer.conn.run(`${etcdctl('member', 'list')} | grep -qF ${sh(`, ${self.node}, `)} || `
        + etcdctl('member', 'add', self.node, `--peer-urls=https://${self.address}:${ETCD_PEER_PORT}`));
      o.report(`etcd member ${self.node} added`);
    }
    const changed = await write(p.conn, ETCD_CONF, 'etcd:etcd', renderEtcdConf({ cluster: o.cluster, self, members: etcd, state: joining || existing ? 'existing' : 'new' }))
      || certsChanged.has(p.conn.name);
    if (p.systemd) {
      await write(p.conn, '/etc/systemd/system/vlx-etcd.service', 'root:root', renderEtcdUnit());
      await p.conn.run(`chmod 0644 /etc/systemd/system/vlx-etcd.service && systemctl daemon-reload && systemctl enable --now vlx-etcd${changed ? ' && systemctl restart vlx-etcd' : ''}`);
      if (changed && existing) await etcdMemberBack(etcd, self.node, tls);
    } else if (!p.etcdPid) {
      await p.conn.run(startEtcdScript());
    } else if (changed) {
      // etcd reads its file only at start; its data (and membership) stays. SIGTERM: a leader
      // hands its leadership over before it goes.
      await p.conn.run(`kill ${p.etcdPid}; for i in $(seq 50); do kill -0 ${p.etcdPid} 2>/dev/null || break; sleep 0.1; done; ${startEtcdScript()}`);
      p.etcdPid = undefined;
      await etcdMemberBack(etcd, self.node, tls);
    }
  }
  const notRunning = onEtcd.filter((p) => !p.etcdPid).map((p) => p.conn.name);
  if (notRunning.length) o.report(`etcd started on ${notRunning.join(', ')}`);
  await waitFor('etcd has no quorum', 30_000, async () => ((await etcdHealth(etcd, tls, 1000)).quorum ? true : undefined),
    async () => JSON.stringify((await etcdHealth(etcd, tls, 1000)).members));
}

/**
 * A cluster deployed before etcd had TLS: its etcd members know each other by http:// peer
 * URLs, which no TLS member can join. etcd holds only what Patroni keeps there (leader key,
 * members, settings), which Patroni makes again, so the TLS etcd starts empty beside the old
 * data (etcd/data, left as it was). Patroni stops first everywhere, standbys before the
 * primary so none is promoted meanwhile, each stopping its PostgreSQL cleanly: a Patroni
 * running against an empty etcd would race to initialise it. The member that was primary
 * (its data says "shut down", a standby's "shut down in recovery") starts first and keeps the
 * database; the others follow it with their own data. The database is down for that moment.
 */
async function retirePlainEtcd(o: HaSetupOptions, probes: MemberProbe[]): Promise<{ seed?: MemberProbe }> {
  o.report(`etcd on ${probes.filter((p) => p.etcdPlain).map((p) => p.conn.name).join(', ')} speaks plain HTTP: moving every member to TLS (the database stops for a moment)`);
  const writable = await Promise.all(probes.map(async (p) => (p.patroniPid || p.systemd)
    && (await p.conn.exec(psqlScript(p.bin, o.port), { stdin: 'select not pg_is_in_recovery();\n' })).stdout.trim() === 't'));
  const stop = (p: MemberProbe) => p.conn.run(stopDaemonScript('patroni', p.systemd), { timeoutMs: 90_000 });
  await Promise.all(probes.filter((_, i) => !writable[i]).map(stop));
  await Promise.all(probes.filter((_, i) => writable[i]).map(stop));
  await Promise.all(probes.map((p) => p.conn.run(`${stopDaemonScript('etcd', p.systemd)} && ${sh('rm', '-rf', ETCD_DATA)}`, { timeoutMs: 90_000 })));
  for (const p of probes) Object.assign(p, { patroniPid: undefined, etcdPid: undefined, etcdData: false, etcdPlain: false });
  const states = await Promise.all(probes.map(async (p) => (p.pgData ? (await p.conn.exec(pgStateScript(p.bin))).stdout.trim() : '')));
  o.report(`Patroni and etcd stopped: ${probes.map((p, i) => `${p.conn.name} ${states[i] || 'no data'}`).join(', ')}`);
  const seed = probes.find((_, i) => states[i] === 'shut down');
  return seed ? { seed } : {};
}

export async function setupHaMembers(o: HaSetupOptions): Promise<HaSetup> {
  o.report(`probing ${o.conns.map((c) => c.name).join(', ')}`);
  const probes = await Promise.all(o.conns.map((c) => probeMember(c, o.tls)));
  const members: HaMember[] = probes.map((p) => ({ node: p.conn.name, address: p.conn.address }));
  const secrets = probes.find((p) => p.secrets)?.secrets ?? { superuser: secret(), replication: secret(), rest: secret() };

  await Promise.all(probes.map((p) => p.conn.run(prepareDirsScript())));
  const { pem: cert, renewed } = await clusterCert(o, probes);
  const ha = await ensureHaCerts({ cluster: o.cluster, probes, members, ...(o.pinnedHa ? { pinned: o.pinnedHa } : {}), report: o.report });
  const tls = ha.client;
  const migratedPrimary = probes.some((p) => p.etcdPlain) ? await retirePlainEtcd(o, probes) : undefined;
  const allow = o.allow(probes);
  const confChanged = await Promise.all(probes.map(async (p) => {
    await write(p.conn, HA_SECRETS, 'postgres:postgres', JSON.stringify(secrets) + '\n');
    const self = members.find((m) => m.node === p.conn.name)!;
    return write(p.conn, PATRONI_CONF, 'postgres:postgres', renderPatroniConf({
      cluster: o.cluster, self, members, port: o.port, binDir: p.bin, secrets, allow, tls: { cert: o.tls.cert, key: o.tls.key },
    }, o.dbName, o.appRole));
  }));

  await startEtcd(o, probes, members, tls, ha.etcdChanged);

  // Which data survives: the cluster's own when etcd knows it, else the seed's.
  const initialized = (await probes[0]!.conn.exec(etcdGetScript(`${ETCD_PREFIX}${haScope(o.cluster)}/initialize`))).stdout.trim();
  const seed = initialized ? undefined
    : migratedPrimary?.seed ?? probes.find((p) => p.conn.name === o.seed && p.pgData) ?? probes.find((p) => p.pgData && p.patroniPid) ?? probes.find((p) => p.pgData) ?? probes[0]!;
  const stamp = new Date().toISOString().replace(/[^0-9]/g, '').slice(0, 14);
  for (const p of probes) {
    // After a move to TLS the standbys keep their data: it is the same database as the seed's.
    const foreign = p.pgData && (initialized ? p.sysid !== initialized : p !== seed && !(migratedPrimary && p.sysid === seed?.sysid));
    if (foreign && !p.patroniPid) {
      await p.conn.run(moveAsideScript(stamp));
      o.report(`${p.conn.name}: data of another database moved aside (${stamp}); it will be cloned from the primary`);
      p.pgData = false;
    }
  }

  const start = async (p: MemberProbe, i: number): Promise<void> => {
    if (p.systemd) {
      await write(p.conn, '/etc/systemd/system/vlx-patroni.service', 'root:root', renderPatroniUnit());
      await p.conn.run(`chmod 0644 /etc/systemd/system/vlx-patroni.service && systemctl daemon-reload && systemctl enable --now vlx-patroni${confChanged[i] ? ' && systemctl reload vlx-patroni' : ''}`);
    } else if (p.patroniPid) {
      // Patroni re-reads its file (and its certificates) on SIGHUP: pg_hba and parameters apply without a restart.
      if (confChanged[i] || ha.issued.has(p.conn.name)) await p.conn.run(`kill -HUP $(cat ${sh(PATRONI_PID)})`);
    } else {
      await p.conn.run(retireStandaloneScript(p.bin), { timeoutMs: 90_000 });
      await p.conn.run(startPatroniScript());
    }
  };
  const primaryUp = (timeoutMs: number) => waitFor('no database primary', timeoutMs,
    async () => (await memberStatuses(members, tls, 1000)).find((m) => m.role === 'primary')?.node, async () => describe(await memberStatuses(members, tls, 1000)));

  if (seed) {
    // Alone first, so it initialises (or adopts its data) and no empty member races it to the initialize key.
    o.report(`${seed.conn.name} ${seed.pgData ? 'takes its existing data' : 'initialises the database (initdb)'}`);
    await start(seed, probes.indexOf(seed));
    const p0 = await primaryUp(120_000);
    // Adopted data may lack the replication role: standbys need it before they can clone.
    await ensureClusterRoles(probes.find((p) => p.conn.name === p0)!, o.port, secrets);
  }
  await Promise.all(probes.map((p, i) => (p === seed ? undefined : start(p, i))));
  const primary = await primaryUp(60_000);
  // A running server reads new certificate files on reload only.
  for (const p of renewed.filter((x) => x.patroniPid)) await p.conn.exec(psqlScript(p.bin, o.port), { stdin: 'select pg_reload_conf();\n' });
  if (!seed) await ensureClusterRoles(probes.find((p) => p.conn.name === primary)!, o.port, secrets);
  // bootstrap.dcs counts only when the cluster is made: settings of a newer deploy go in here
  const edit = await probes.find((p) => p.conn.name === primary)!.conn
    .run(`${sh('patronictl', '-c', PATRONI_CONF, 'edit-config', '--force', '--apply', '-')} 2>&1 || true`, { stdin: JSON.stringify(dcsConfig()) });
  if (/^[+-][^+-]/m.test(edit)) o.report(`cluster settings updated: ${edit.split('\n').filter((l) => /^[+-][^+-]/.test(l)).map((l) => l.trim()).join(' ')}`);
  const fresh = probes.filter((p) => !p.patroniPid).map((p) => p.conn.name);
  if (fresh.length) o.report(`Patroni started on ${fresh.join(', ')}; primary ${primary}`);
  if (members.length > 1) {
    // A standby counts once it streams; pg_basebackup of a new member takes a few seconds.
    await waitFor('the standbys did not catch up', 120_000, async () => {
      const ms = await memberStatuses(members, tls, 1000);
      return ms.every((m) => m.role === 'primary' || ((m.role === 'sync_standby' || m.role === 'standby') && (m.state === 'running' || m.state === 'streaming')))
        && ms.some((m) => m.role === 'sync_standby') && (await recordedSyncStandby(members, tls, 1000)) ? true : undefined;
    }, async () => describe(await memberStatuses(members, tls, 1000)));
    o.report('standbys streaming, one synchronous');
  }
  return { members, primary, cert, haTls: tls, probes };
}
