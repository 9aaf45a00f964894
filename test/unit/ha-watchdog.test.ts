import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDb, type Db } from '../../main/db/client.js';
import { migrate } from '../../main/db/migrate.js';
import { watchdogRoleSql } from '../../main/ha/watchdogDeploy.js';
import { renderServiceFile, renderWatchdogScript } from '../../main/ha/watchdogScript.js';
import { CHECK_S, FENCE_S, KILL_S } from '../../main/ha/timing.js';
import { MARGIN_S } from '../../main/health/lease.js';
import { startLocalPg, type LocalPg } from '../support/localPg.js';

/**
 * The watchdog script itself, run as a process against a real PostgreSQL with its own role:
 * it renews, arms once its node holds an HA VM (and says so in the DB only once it is armed),
 * and when its renewals stop being answered it SIGKILLs the node's VM QEMUs (a stand-in
 * process named qemu-… with a VM pid file on its command line) after FENCE_S, not before, and
 * well before lease + margin. Its files live in a temp dir instead of /etc and /run.
 */
let pg: LocalPg;
let db: Db;
let dir: string;
let wd: ChildProcess | undefined;
let qemu: ChildProcess | undefined;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  pg = await startLocalPg();
  const ep = await pg.freshDatabase();
  db = openDb(ep);
  await migrate(db);
  await db.query(`insert into nodes (name, address, cores, mem_mb) values ('n4', '10.0.0.4', 4, 1024)`);
  await db.query(`insert into images (name, kind) values ('tiny', 'kernel')`);
  await db.query(`insert into vcs (name, vcpus, mem_mb, disk_gb, image, subnet, share_id) values ('web', 1, 128, 1, 'tiny', '10.200.9.0/24', 9)`);
  await db.query(`insert into vms (vc, name, idx, ip, mac, state) values ('web', 'vm1', 0, '10.200.9.11', '52:54:00:00:09:01', 'running')`);
  await db.query(`insert into mapping (vc, vm, node) values ('web', 'vm1', 'n4')`);
  const password = 'watchdog_pw_0123456789';
  await pg.superSql(watchdogRoleSql([{ node: 'n4', password }], ep.database));
  dir = mkdtempSync(join(tmpdir(), 'vlx-wd-'));
  mkdirSync(join(dir, 'vm', 'web'), { recursive: true });
  writeFileSync(join(dir, 'server.crt'), ep.tlsCert!);
  writeFileSync(join(dir, 'pg_service.conf'), renderServiceFile({ node: 'n4', hosts: ['127.0.0.1'], port: ep.port, database: ep.database, password }, join(dir, 'server.crt')), { mode: 0o600 });
  writeFileSync(join(dir, 'watchdog.sh'), renderWatchdogScript('n4', { service: join(dir, 'pg_service.conf'), pid: join(dir, 'wd.pid'), err: join(dir, 'wd.err'), vmRun: join(dir, 'vm') }));
  // A stand-in QEMU: named qemu-…, running, its VM pid file on its command line.
  copyFileSync('/usr/bin/tail', join(dir, 'qemu-standin'));
  writeFileSync(join(dir, 'vm', 'web', 'vm1.pid'), '');
}, 60_000);

afterAll(async () => {
  wd?.kill('SIGKILL');
  qemu?.kill('SIGKILL');
  await db?.close();
  await pg?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function leaseRow(): Promise<{ armed: boolean; by: string | null; left: number } | undefined> {
  const r = await db.query<{ armed: boolean; by: string; left: number }>(
    `select fence_armed as armed, renewed_by as by, extract(epoch from lease_until - now())::float8 as left from node_leases where node = 'n4'`);
  return r.rows[0];
}

describe('the watchdog process', () => {
  it('renews, arms for an HA VM, and fences after FENCE_S without answers (not before)', async () => {
    let log = '';
    wd = spawn('sh', [join(dir, 'watchdog.sh')], { stdio: ['ignore', 'pipe', 'pipe'] });
    wd.stdout!.on('data', (d) => { log += String(d); });
    wd.stderr!.on('data', (d) => { log += String(d); });
    const until = async (what: string, ok: () => Promise<boolean> | boolean, ms: number) => {
      const end = Date.now() + ms;
      while (!(await ok())) { if (Date.now() > end) throw new Error(`${what} not within ${ms} ms; log:\n${log}`); await sleep(100); }
    };
    await until('a renewal', async () => (await leaseRow())?.by === 'watchdog n4', 15_000);
    expect((await leaseRow())!.armed).toBe(false);
    qemu = spawn(join(dir, 'qemu-standin'), ['-f', join(dir, 'vm', 'web', 'vm1.pid')], { stdio: 'ignore' });
    let killed = false;
    qemu.on('exit', () => { killed = true; });
    // Not armed: a DB that stops answering costs nothing.
    await sleep(2000);
    expect(log).not.toMatch(/armed: /);
    await db.query(`update vcs set ha = true where name = 'web'`);
    await until('armed, as the DB says', async () => (await leaseRow())?.armed === true, 15_000);
    expect(log).toMatch(/armed: this node holds HA VMs/);
    // Cut off: its role may no longer log in, as if the DB were out of reach.
    await pg.superSql(`alter role vlx_wd_n4 nologin;`);
    await sleep(150);
    const t0 = Date.now();
    const leftAtCut = (await leaseRow())!.left;
    await until('the stand-in QEMU killed', () => killed, (FENCE_S + CHECK_S + KILL_S + 5) * 1000);
    const after = (Date.now() - t0) / 1000;
    console.log(`[measure] watchdog: fenced ${after.toFixed(1)} s after its renewals stopped being answered (lease had ${leftAtCut.toFixed(1)} s left; FENCE_S ${FENCE_S})`);
    // Not before FENCE_S since its last answered renewal (at most CHECK_S before the cut), and
    // before anything may restart it elsewhere: the lease's end plus the margin.
    expect(after).toBeGreaterThan(FENCE_S - CHECK_S - 0.5);
    expect(after).toBeLessThan(leftAtCut + MARGIN_S);
    await until('the fence logged', () => /FENCED: no answered renewal for \d+s: SIGKILL to the QEMUs of: web\/vm1\.pid/.test(log), 5000);
    expect(readFileSync(join(dir, 'wd.pid'), 'utf8').trim()).toBe(String(wd.pid));
  }, 90_000);
});
