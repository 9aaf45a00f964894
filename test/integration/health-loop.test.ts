import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDb, type Db } from '../../main/db/client.js';
import { migrate } from '../../main/db/migrate.js';
import { openCluster, type SshClusterSession } from '../../main/ssh/session.js';
import { HealthLoop, type NodeHealthView } from '../../main/health/loop.js';
import { LEASE_S, MARGIN_S } from '../../main/health/lease.js';
import { startLocalPg, type LocalPg } from '../support/localPg.js';
import { makeSshd, type TestSshd } from '../unit/ssh-sshd.js';

/**
 * The health loop against a real sshd and a real PostgreSQL, no lab: a node whose SSH server
 * freezes (its connection open, nothing answering: what a cut link looks like) is unreachable
 * at once and down only after its lease and the margin; it hands the node its lease deadline;
 * a state change is reported, and the node is up again once it answers.
 */
let pg: LocalPg;
let db: Db;
let sshd: TestSshd;
let session: SshClusterSession;
let work: string;
let loop: HealthLoop;
const changes: NodeHealthView[][] = [];

beforeAll(async () => {
  pg = await startLocalPg();
  db = openDb(await pg.freshDatabase());
  await migrate(db);
  await db.query(`insert into nodes (name, address, cores, mem_mb) values ('local', '127.0.0.1', 4, 4096)`);
  sshd = await makeSshd();
  await sshd.start();
  work = mkdtempSync(join(tmpdir(), 'vlx-health-'));
  const key = sshd.hostKeyPub();
  writeFileSync(join(work, 'known_hosts'), `[127.0.0.1]:${sshd.port} ${key.keyType} ${key.keyBase64}\n`);
  session = openCluster({ name: 't', user: 'root', port: sshd.port, keyFile: sshd.clientKey, lab: false, nodes: [{ name: 'local', address: '127.0.0.1' }] },
    { knownHostsFile: join(work, 'known_hosts') });
  loop = new HealthLoop(session, async () => db, (v) => changes.push(v), () => true, join(work, 'run', 'lease'));
}, 120_000);

afterAll(async () => {
  loop?.stop();
  for (const pid of sshd?.sessionPids() ?? []) { try { process.kill(pid, 'SIGCONT'); } catch { /* gone */ } }
  try { process.kill(Number(readFileSync(join(sshd.dir, 'sshd.pid'), 'utf8').trim()), 'SIGCONT'); } catch { /* gone */ }
  await session?.close();
  await sshd?.cleanup();
  await db?.close();
  await pg?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

const view = async () => (await loop.current())[0]!;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('health loop', () => {
  it('an answering node is up, leased on the DB clock, and told its deadline', async () => {
    loop.start();
    await loop.tick();
    const v = await view();
    expect([v.state, v.reachable]).toEqual(['up', true]);
    expect(v.leaseLeftS).toBeGreaterThan(LEASE_S - 3);
    await loop.tick();
    const deadline = Number(readFileSync(join(work, 'run', 'lease'), 'utf8').trim());
    expect(Math.abs(deadline * 1000 - Date.now() - LEASE_S * 1000)).toBeLessThan(5000);
    expect((await db.query(`select health from nodes where name = 'local'`)).rows[0].health).toBe('up');
    expect(changes.length).toBeGreaterThan(0);
  }, 30_000);

  it('a frozen node is unreachable at once and down only after lease + margin; up again when it answers', async () => {
    // The listener too: a new connection must not get through either.
    const frozen = [...sshd.sessionPids(), Number(readFileSync(join(sshd.dir, 'sshd.pid'), 'utf8').trim())];
    expect(frozen.length).toBeGreaterThan(1);
    const t0 = Date.now();
    for (const pid of frozen) process.kill(pid, 'SIGSTOP');
    const seen: { at: number; state: string; left?: number }[] = [];
    while (Date.now() - t0 < (LEASE_S + MARGIN_S + 10) * 1000) {
      await sleep(500);
      const v = await view();
      seen.push({ at: Date.now() - t0, state: v.state, ...(v.leaseLeftS !== undefined ? { left: v.leaseLeftS } : {}) });
      if (v.state === 'down') break;
    }
    for (const pid of frozen) process.kill(pid, 'SIGCONT');
    const firstLost = seen.find((x) => x.state === 'unreachable');
    const down = seen.find((x) => x.state === 'down');
    expect(firstLost, JSON.stringify(seen)).toBeDefined();
    expect(down, JSON.stringify(seen)).toBeDefined();
    expect(firstLost!.at).toBeLessThan(5000);
    // Never down while the lease plus the margin still covered it.
    expect(down!.at).toBeGreaterThanOrEqual(firstLost!.at + ((firstLost!.left ?? 0) + MARGIN_S) * 1000 - 1500);
    expect(seen.slice(0, seen.indexOf(down!)).every((x) => x.state !== 'down')).toBe(true);
    console.log(`[measure] health loop, frozen sshd: unreachable after ${firstLost!.at} ms, down after ${down!.at} ms (detection ${down!.at - firstLost!.at} ms)`);

    const t1 = Date.now();
    while ((await view()).state !== 'up') {
      if (Date.now() - t1 > 40_000) throw new Error('never up again');
      await sleep(500);
    }
    console.log(`[measure] health loop: up again ${Date.now() - t1} ms after the node answered`);
  }, 90_000);
});
