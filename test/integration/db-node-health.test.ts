import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDb, type Db } from '../../main/db/client.js';
import { migrate } from '../../main/db/migrate.js';
import { MIGRATIONS } from '../../main/db/migrations/index.js';
import { startLocalPg, type LocalPg } from '../support/localPg.js';
import { readHealthRows, renewLeases, setAdminState, storeHealth } from '../../main/health/lease.js';

/** Migration 003 (node leases, admin and health states) on a real PostgreSQL 15. */
let pg: LocalPg;
let db: Db;

beforeAll(async () => {
  pg = await startLocalPg();
  db = openDb(await pg.freshDatabase());
  await migrate(db, MIGRATIONS.slice(0, 2));
  await db.query(`insert into nodes (name, address, cores, mem_mb, state) values ('n1', '10.77.0.1', 4, 4096, 'up'), ('n2', '10.77.0.2', 4, 4096, 'down')`);
  await migrate(db);
});
afterAll(async () => {
  await db?.close();
  await pg?.stop();
});

describe('003_node_health', () => {
  it('gives existing nodes an active admin state, an unknown health and no lease', async () => {
    const { rows } = await readHealthRows(db);
    expect(rows.map((r) => [r.name, r.admin, r.health, r.leaseUntil])).toEqual([['n1', 'active', 'unknown', null], ['n2', 'active', 'unknown', null]]);
  });

  it('renews leases on the DB clock, never shortening one, and ignores unknown nodes', async () => {
    await renewLeases(db, ['n1', 'ghost'], 'ws-a', 30);
    const first = (await readHealthRows(db)).rows.find((r) => r.name === 'n1')!;
    await renewLeases(db, ['n1'], 'ws-b', 5);
    const { now, rows } = await readHealthRows(db);
    const n1 = rows.find((r) => r.name === 'n1')!;
    expect(n1.leaseUntil).toBe(first.leaseUntil);
    expect(n1.renewedBy).toBe('ws-b');
    expect(n1.leaseUntil! - now).toBeGreaterThan(25_000);
    expect((await db.query('select count(*)::int as n from node_leases')).rows[0].n).toBe(1);
  });

  it('notifies only a change of health, not a renewal', async () => {
    const got: string[] = [];
    const stop = await db.listen('vlx_events', (p) => got.push(p));
    try {
      await renewLeases(db, ['n1', 'n2'], 'ws-a');
      expect(await storeHealth(db, 'n2', 'unreachable')).toBe(true);
      expect(await storeHealth(db, 'n2', 'unreachable')).toBe(false);
      await new Promise((r) => setTimeout(r, 300));
      expect(got.map((p) => JSON.parse(p))).toEqual([{ type: 'node', name: 'n2' }]);
    } finally {
      await stop();
    }
  });

  it('refuses states outside the model, naming the rule', async () => {
    await expect(db.query(`update nodes set health = 'dead' where name = 'n1'`)).rejects.toMatchObject({ code: 'invalid-input' });
    await expect(db.query(`update nodes set admin_state = 'draining' where name = 'n1'`)).rejects.toMatchObject({ code: 'invalid-input' });
    await setAdminState(db, 'n1', 'maintenance', { task: 't1', moved: [], failed: [{ vc: 'a', vm: 'vm1', reason: 'no room' }] });
    const n1 = (await readHealthRows(db)).rows.find((r) => r.name === 'n1')!;
    expect([n1.admin, n1.evacuation.failed?.[0]?.vm]).toEqual(['maintenance', 'vm1']);
  });
});
