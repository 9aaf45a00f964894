// Cluster database failover on the running lab (`vlx lab up` first; root): the primary's node
// loses power while this process writes every 50 ms; measured from the crash to
//   (a) promotion: a surviving member answers pg_is_in_recovery() = false;
//   (b) the app's first acknowledged write on the new primary.
// The crashed node is revived and caught up before the next run. Medians over --runs (5),
// each figure with the 1-minute load average at its crash: other work on the machine
// slows Patroni, etcd and PostgreSQL alike.
import { loadavg } from 'node:os';
import { getCluster } from '../main/config/clusters.js';
import { openClusterDb } from '../main/db/client.js';
import { HA_TIMING, PATRONI_PORT } from '../main/db/haConfig.js';
import { getJson, memberStatuses, recordedSyncStandby } from '../main/db/haStatus.js';
import { findPrimary, membersOf, probeMember } from '../main/db/primary.js';
import { labCrash } from '../main/lab/index.js';
import { reviveLabNode } from '../main/service/labStart.js';
import { checkInt } from '../main/util/names.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Run {
  crashed: string;
  promoted: string;
  promotionMs: number;
  firstWriteMs: number;
  load: number;
}

async function once(): Promise<Run> {
  const cluster = getCluster('lab');
  const ep = cluster.db;
  if (!ep?.members || ep.members.length < 2) throw new Error('the lab database has fewer than two members: run `vlx lab up` (3 or more nodes)');
  const db = openClusterDb(cluster, { max: 2 });
  const acks: { at: number; host: string }[] = [];
  let stop = false;
  const writer = (async () => {
    while (!stop) {
      try {
        await db.query(`insert into tasks (kind, target, lock_key, host) values ('bench.failover', 'x', 'x', 'bench')`);
        acks.push({ at: Date.now(), host: db.where.split('@')[1]!.split(':')[0]! });
      } catch {
        // counted by the gap it leaves
      }
      await sleep(50);
    }
  })();
  try {
    while (acks.length < 10) await sleep(50);
    // a failover needs the synchronous standby recorded in etcd (see recordedSyncStandby)
    while (!(await recordedSyncStandby(membersOf(ep).map((x) => ({ node: x.node, address: x.host })), ep.haTls))) await sleep(200);
    const old = await findPrimary(ep);
    const load = loadavg()[0]!;
    const t0 = Date.now();
    await labCrash(old.node);
    let promoted = '';
    let promotionMs = 0;
    while (!promoted) {
      const ps = await Promise.all(membersOf(ep).filter((m) => m.node !== old.node).map((m) => probeMember(ep, m, { connectTimeoutMs: 1000 })));
      const p = ps.find((x) => x.state === 'primary');
      if (p) {
        promoted = p.node;
        promotionMs = Date.now() - t0;
      } else if (Date.now() - t0 > 60_000) {
        throw new Error('no promotion within 60 s');
      } else {
        await sleep(100);
      }
    }
    while (!acks.some((a) => a.at > t0 && a.host !== old.host)) {
      if (Date.now() - t0 > 60_000) throw new Error('no write on the new primary within 60 s');
      await sleep(50);
    }
    const firstWriteMs = acks.find((a) => a.at > t0 && a.host !== old.host)!.at - t0;
    stop = true;
    await writer;
    await reviveLabNode(old.node);
    // caught up before the next run
    for (const end = Date.now() + 60_000; Date.now() < end; await sleep(250)) {
      const m = (await memberStatuses(membersOf(ep).map((x) => ({ node: x.node, address: x.host })), ep.haTls)).find((x) => x.node === old.node);
      if (m && /standby/.test(m.role) && m.lagBytes === 0) break;
    }
    return { crashed: old.node, promoted, promotionMs, firstWriteMs, load };
  } finally {
    stop = true;
    await writer;
    await db.close();
  }
}

/**
 * The timing the cluster runs with, as Patroni holds it in etcd: the lab is shared, and a
 * deploy by an older vlx puts its own timing back. Figures measured under another timing
 * than this build's are marked as such.
 */
async function clusterTiming(): Promise<string> {
  const ep = getCluster('lab').db!;
  const p = await findPrimary(ep);
  const c = (await getJson(p.host, PATRONI_PORT, '/config', ep.haTls, 3000)) as Record<string, unknown>;
  const now = `ttl ${c.ttl}, loop_wait ${c.loop_wait}, retry_timeout ${c.retry_timeout}`;
  const ours = (Object.keys(HA_TIMING) as (keyof typeof HA_TIMING)[]).every((k) => c[k] === HA_TIMING[k]);
  return ours ? now : `${now} — NOT this build's (ttl ${HA_TIMING.ttl}, loop_wait ${HA_TIMING.loop_wait}, retry_timeout ${HA_TIMING.retry_timeout}): run \`vlx db deploy\` first`;
}

const runs = checkInt(Number(arg('--runs') ?? 5), 'runs', 1, 50);
const timing = await clusterTiming();
process.stderr.write(`Patroni timing: ${timing}\n`);
const results: Run[] = [];
for (let i = 0; i < runs; i++) {
  const r = await once();
  results.push(r);
  process.stderr.write(`run ${i + 1}: crash ${r.crashed} → ${r.promoted} promoted after ${(r.promotionMs / 1000).toFixed(2)} s, `
    + `first app write ${(r.firstWriteMs / 1000).toFixed(2)} s (load ${r.load.toFixed(2)})\n`);
}
const timingAfter = await clusterTiming();
if (timingAfter !== timing) process.stderr.write(`Patroni timing changed during the runs (another deploy?): now ${timingAfter}\n`);
const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
process.stdout.write([
  `DB failover, ${runs} runs (1-min load at each crash: ${results.map((r) => r.load.toFixed(2)).join(', ')}; Patroni ${timing})`,
  `  promotion (crash → a standby writable)   median ${s(median(results.map((r) => r.promotionMs)))}   target < 10 s`,
  `  app's first write after the crash        median ${s(median(results.map((r) => r.firstWriteMs)))}   target < 12 s`,
  '  anchors: Proxmox HA ~120 s; keepalived VRRPv3 0.37 s (VIP only)',
  '',
].join('\n'));
process.exit(0);
