import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDb, type Db } from '../../main/db/client.js';
import { migrate } from '../../main/db/migrate.js';
import { watchdogRoleSql } from '../../main/ha/watchdogDeploy.js';
import { startLocalPg, type LocalPg } from '../support/localPg.js';

/**
 * Migration 005 on a real PostgreSQL with the privileges a deploy gives: a node's watchdog role
 * renews its own node's lease and nothing else, the armed flag it reports is stored, leases
 * only grow, and of two claims of one VM's stay on a lost node exactly one goes through.
 */
let pg: LocalPg;
let db: Db;
let wd: Db;
const PASSWORD = 'watchdog_pw_0123456789';

beforeAll(async () => {
  pg = await startLocalPg();
  const ep = await pg.freshDatabase();
  db = openDb(ep);
  await migrate(db);
  await db.query(`insert into nodes (name, address, cores, mem_mb) values ('n1', '10.0.0.1', 4, 1024), ('n4', '10.0.0.4', 4, 1024)`);
  await db.query(`insert into images (name, kind) values ('tiny', 'kernel')`);
  await db.query(`insert into vcs (name, vcpus, mem_mb, disk_gb, image, subnet, share_id) values ('web', 1, 128, 1, 'tiny', '10.200.9.0/24', 9)`);
  await db.query(`insert into vms (vc, name, idx, ip, mac, state) values ('web', 'vm1', 0, '10.200.9.11', '52:54:00:00:09:01', 'running')`);
  await db.query(`insert into mapping (vc, vm, node) values ('web', 'vm1', 'n4')`);
  await pg.superSql(watchdogRoleSql([{ node: 'n4', password: PASSWORD }], ep.database));
  wd = openDb({ ...ep, user: 'vlx_wd_n4', password: PASSWORD }, { max: 1 });
}, 60_000);

afterAll(async () => {
  await wd?.close();
  await db?.close();
  await pg?.stop();
});

describe('the watchdog\'s role', () => {
  it('renews its own lease, records whether it is armed, and hears whether its node holds an HA VM', async () => {
    expect((await wd.query<{ r: boolean }>('select vlx_watchdog_renew(false, 10) as r')).rows[0]!.r).toBe(false);
    let l = (await db.query(`select renewed_by, fence_armed, lease_until > now() + interval '8 s' as fresh from node_leases where node = 'n4'`)).rows[0];
    expect(l).toEqual({ renewed_by: 'watchdog n4', fence_armed: false, fresh: true });
    await db.query(`update vcs set ha = true where name = 'web'`);
    expect((await wd.query<{ r: boolean }>('select vlx_watchdog_renew(false, 10) as r')).rows[0]!.r).toBe(true);
    expect((await wd.query<{ r: boolean }>('select vlx_watchdog_renew(true, 10) as r')).rows[0]!.r).toBe(true);
    l = (await db.query(`select fence_armed from node_leases where node = 'n4'`)).rows[0];
    expect(l).toEqual({ fence_armed: true });
    // A VM's own mark wins over its VC's.
    await db.query(`update vms set ha = false where vc = 'web' and name = 'vm1'`);
    expect((await wd.query<{ r: boolean }>('select vlx_watchdog_renew(true, 10) as r')).rows[0]!.r).toBe(false);
  });

  it('leases only grow: a shorter renewal by anyone leaves the longer one', async () => {
    await db.query(`select vlx_renew_leases(array['n4'], 30, 'ws')`);
    const before = (await db.query<{ u: Date }>(`select lease_until as u from node_leases where node = 'n4'`)).rows[0]!.u;
    await wd.query('select vlx_watchdog_renew(false, 5)');
    expect((await db.query<{ u: Date }>(`select lease_until as u from node_leases where node = 'n4'`)).rows[0]!.u).toEqual(before);
  });

  it('may do nothing else: no table, no other function, no out-of-range lease', async () => {
    await expect(wd.query('select * from nodes')).rejects.toThrow(/permission denied/);
    await expect(wd.query(`update node_leases set lease_until = now() + interval '1 day'`)).rejects.toThrow(/permission denied/);
    await expect(wd.query(`select vlx_renew_leases(array['n1'], 60, 'me')`)).rejects.toThrow(/permission denied/);
    await expect(wd.query('select vlx_watchdog_renew(false, 3600)')).rejects.toThrow(/seconds: must be 1 to 60/);
  });

  it('the app\'s role is no watchdog', async () => {
    await expect(db.query('select vlx_watchdog_renew(false, 10)')).rejects.toThrow(/is no node watchdog|permission denied/);
  });
});

describe('the claim', () => {
  it('of two workstations claiming one VM\'s stay on a lost node at once, exactly one goes through', async () => {
    const since = (await db.query<{ s: string }>(`select since::text as s from mapping where vc = 'web' and vm = 'vm1'`)).rows[0]!.s;
    const claim = (who: string) => db.tx(async (q) => (await q.query(
      `insert into ha_restarts (vc, vm, from_node, mapped_since, claimed_by, action, to_node)
       values ('web', 'vm1', 'n4', $1::timestamptz, $2, 'restart', 'n1') on conflict do nothing returning vm`, [since, who])).rowCount);
    const got = await Promise.all([claim('ws-a'), claim('ws-b'), claim('ws-c')]);
    expect(got.sort()).toEqual([0, 0, 1]);
    // The VM's next stay (after it moved) is a claim of its own.
    await db.query(`update mapping set node = 'n1', since = now() + interval '1 s' where vc = 'web' and vm = 'vm1'`);
    const next = (await db.query<{ s: string }>(`select since::text as s from mapping where vc = 'web' and vm = 'vm1'`)).rows[0]!.s;
    expect((await db.query(`insert into ha_restarts (vc, vm, from_node, mapped_since, claimed_by, action) values ('web', 'vm1', 'n1', $1::timestamptz, 'ws-a', 'left-stopped') on conflict do nothing returning vm`, [next])).rowCount).toBe(1);
  });
});
