import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openClusterDb, openDb, type Db } from '../../main/db/client.js';
import { appliedMigrations, migrate } from '../../main/db/migrate.js';
import { MIGRATIONS } from '../../main/db/migrations/index.js';
import { newDbPassword, scramVerifier } from '../../main/db/scram.js';
import { VlxError } from '../../main/errors.js';
import { startLocalPg, type LocalPg } from '../support/localPg.js';
import { statSync } from 'node:fs';
import { appPaths } from '../../main/config/paths.js';
import { getCluster, putCluster, type DbEndpoint } from '../../main/config/clusters.js';
import { LOGIN_ROLE, deployDatabase, roleSql, type DeployProgress } from '../../main/db/deploy.js';
import { openCluster } from '../../main/ssh/session.js';

let pg: LocalPg;
const opened: Db[] = [];

async function fresh(): Promise<Db> {
  const db = openDb(await pg.freshDatabase());
  opened.push(db);
  return db;
}

async function rejection(p: Promise<unknown>): Promise<VlxError> {
  try {
    await p;
  } catch (e) {
    return e as VlxError;
  }
  throw new Error('expected a rejection');
}

beforeAll(async () => {
  pg = await startLocalPg();
});
afterAll(async () => {
  for (const db of opened) await db.close();
  await pg?.stop();
});

describe('migrations on a fresh PostgreSQL 15', () => {
  it('applies every migration in order, and a re-run is a no-op', async () => {
    const db = await fresh();
    const first = await migrate(db);
    expect(first.applied).toEqual(MIGRATIONS.map((m) => m.name));
    expect(first.present).toEqual([]);
    const second = await migrate(db);
    expect(second.applied).toEqual([]);
    expect(second.present).toEqual(MIGRATIONS.map((m) => m.version));
    expect((await appliedMigrations(db)).map((m) => m.name)).toEqual(MIGRATIONS.map((m) => m.name));
  });

  it('two workstations migrating at once: one applies, the other waits and finds nothing to do', async () => {
    const ep = await pg.freshDatabase();
    const a = openDb(ep);
    const b = openDb(ep);
    opened.push(a, b);
    const [ra, rb] = await Promise.all([migrate(a), migrate(b)]);
    // Exactly one of them applied every migration and the other none: a split between the two
    // (each applying some) would be a race the lock failed to stop.
    const [first, second] = [ra.applied, rb.applied].sort((x, y) => y.length - x.length);
    expect(first).toEqual(MIGRATIONS.map((m) => m.name));
    expect(second).toEqual([]);
  });

  it('refuses to run when an applied migration was edited afterwards', async () => {
    const db = await fresh();
    await migrate(db);
    const edited = MIGRATIONS.map((m, i) => (i === 0 ? { ...m, sql: m.sql + '\n-- edited\n' } : m));
    const err = await rejection(migrate(db, edited));
    expect(err.code).toBe('db');
    expect(err.message).toContain('001_initial was changed after it was applied');
  });

  it('a failing migration leaves nothing half-applied', async () => {
    const db = await fresh();
    const broken = [...MIGRATIONS, { version: MIGRATIONS.length + 1, name: `${String(MIGRATIONS.length + 1).padStart(3, '0')}_broken`, sql: 'create table half (x int); select * from no_such_table;' }];
    const err = await rejection(migrate(db, broken));
    expect(err.message).toMatch(/_broken failed: .*no_such_table/);
    expect((await db.query(`select to_regclass('half') as t`)).rows[0].t).toBeNull();
    expect((await appliedMigrations(db)).length).toBe(MIGRATIONS.length);
  });
});

describe('002_share_ids', () => {
  it('numbers the VCs that exist, then every VC needs its own share id', async () => {
    const db = await fresh();
    await migrate(db, MIGRATIONS.slice(0, 1));
    await db.query(`insert into images (name, kind, files) values ('tiny', 'kernel', '{}')`);
    for (const [n, net] of [['older', '10.200.1.0/24'], ['newer', '10.200.2.0/24']]) {
      await db.query(`insert into vcs (name, vcpus, mem_mb, disk_gb, image, subnet) values ($1, 1, 128, 1, 'tiny', $2)`, [n, net]);
    }
    await migrate(db, MIGRATIONS.slice(0, 2));
    const ids = await db.query<{ name: string; share_id: number }>('select name, share_id from vcs order by share_id');
    expect(ids.rows.map((r) => [r.name, r.share_id])).toEqual([['older', 1], ['newer', 2]]);
    const add = (name: string, net: string, id: number | null) =>
      db.query(`insert into vcs (name, vcpus, mem_mb, disk_gb, image, subnet, share_id) values ($1, 1, 128, 1, 'tiny', $2, $3)`, [name, net, id]);
    expect((await rejection(add('third', '10.200.3.0/24', null))).code).toBe('invalid-input');
    expect((await rejection(add('third', '10.200.3.0/24', 2))).code).toBe('conflict');
    expect((await rejection(add('third', '10.200.3.0/24', 70000))).code).toBe('invalid-input');
    await add('third', '10.200.3.0/24', 3);
  });
});

describe('001_initial', () => {
  let db: Db;
  beforeAll(async () => {
    db = await fresh();
    await migrate(db, MIGRATIONS.slice(0, 1));
    await db.query(`insert into nodes (name, address, cores, mem_mb) values ('n1', '10.77.0.1', 4, 8192), ('n2', '10.77.0.2', 4, 8192)`);
    await db.query(`insert into images (name, kind, files) values ('tiny', 'kernel', '{"kernel":"images/tiny/vmlinuz"}')`);
  });

  const addVc = (name: string, subnet: string) =>
    db.query(`insert into vcs (name, vcpus, mem_mb, disk_gb, image, subnet) values ($1, 1, 128, 1, 'tiny', $2)`, [name, subnet]);
  const addVm = (vc: string, name: string, idx: number, ip: string, mac: string) =>
    db.query('insert into vms (vc, name, idx, ip, mac) values ($1, $2, $3, $4, $5)', [vc, name, idx, ip, mac]);

  it('creates the tables the product needs', async () => {
    const r = await db.query<{ table_name: string }>(
      `select table_name from information_schema.tables where table_schema = 'public' order by table_name`);
    expect(r.rows.map((x) => x.table_name)).toEqual(
      ['images', 'mapping', 'nodes', 'schema_migrations', 'task_log', 'task_steps', 'tasks', 'vcs', 'vms', 'volumes']);
  });

  it('refuses a second VC on the same subnet, and one on an overlapping subnet', async () => {
    await addVc('alpha', '10.200.1.0/24');
    const same = await rejection(addVc('beta', '10.200.1.0/24'));
    expect(same.code).toBe('conflict');
    const overlap = await rejection(addVc('beta', '10.200.0.0/16'));
    expect(overlap.code).toBe('conflict');
    expect(overlap.details?.constraint).toBe('vcs_subnet_no_overlap');
    await addVc('beta', '10.200.2.0/24');
  });

  it('refuses names a shell command could not safely hold', async () => {
    const err = await rejection(addVc('x;rm -rf', '10.200.9.0/24'));
    expect(err.code).toBe('invalid-input');
  });

  it('addresses and MACs are unique, MACs across all VCs, and an address must be in its VC subnet', async () => {
    await addVm('alpha', 'vm0', 0, '10.200.1.10', '52:54:00:00:01:00');
    expect((await rejection(addVm('alpha', 'vm1', 1, '10.200.1.10', '52:54:00:00:01:01'))).code).toBe('conflict');
    expect((await rejection(addVm('beta', 'vm0', 0, '10.200.2.10', '52:54:00:00:01:00'))).code).toBe('conflict');
    const outside = await rejection(addVm('beta', 'vm0', 0, '10.200.1.11', '52:54:00:00:02:00'));
    expect(outside.code).toBe('invalid-input');
    expect(outside.message).toContain('outside the subnet');
    expect((await rejection(addVm('alpha', 'vm0', 1, '10.200.1.12', '52:54:00:00:01:01'))).code).toBe('conflict');
    expect((await rejection(addVm('alpha', 'vm1', 0, '10.200.1.12', '52:54:00:00:01:01'))).code).toBe('conflict');
  });

  it('a mapping row needs a known node and a known VM, and there is one per VM', async () => {
    await db.query(`insert into mapping (vc, vm, node) values ('alpha', 'vm0', 'n1')`);
    expect((await rejection(db.query(`insert into mapping (vc, vm, node) values ('alpha', 'vm0', 'n2')`))).code).toBe('conflict');
    expect((await rejection(db.query(`insert into mapping (vc, vm, node) values ('alpha', 'nope', 'n1')`))).code).toBe('invalid-input');
    expect((await rejection(db.query(`delete from nodes where name = 'n1'`))).code).toBe('invalid-input');
  });

  it('volumes: unique path, kind-specific owners', async () => {
    await db.query(`insert into volumes (path, kind, backing, vc, vm, virtual_bytes) values ('/srv/virtualinux/vc/alpha/vm0.qcow2', 'root', '/srv/virtualinux/images/tiny.qcow2', 'alpha', 'vm0', 1073741824)`);
    await db.query(`insert into volumes (path, kind, vc) values ('/srv/virtualinux/vc/alpha/shared', 'shared', 'alpha')`);
    expect((await rejection(db.query(`insert into volumes (path, kind, vc, vm) values ('/srv/virtualinux/vc/alpha/vm0.qcow2', 'swap', 'alpha', 'vm0')`))).code).toBe('conflict');
    expect((await rejection(db.query(`insert into volumes (path, kind) values ('/srv/virtualinux/x.qcow2', 'root')`))).code).toBe('invalid-input');
    expect((await rejection(db.query(`insert into volumes (path, kind) values ('relative.qcow2', 'template')`))).code).toBe('invalid-input');
  });

  it('deleting a VC removes its VMs, mapping and volumes, and nothing of other VCs', async () => {
    await addVm('beta', 'vm0', 0, '10.200.2.10', '52:54:00:00:02:00');
    await db.query(`insert into mapping (vc, vm, node) values ('beta', 'vm0', 'n2')`);
    await db.query(`delete from vcs where name = 'alpha'`);
    const count = async (t: string, vc: string) => (await db.query(`select count(*)::int as n from ${t} where vc = $1`, [vc])).rows[0].n;
    for (const t of ['vms', 'mapping', 'volumes']) expect(await count(t, 'alpha')).toBe(0);
    expect(await count('vms', 'beta')).toBe(1);
    expect(await count('mapping', 'beta')).toBe(1);
  });

  it('an image in use cannot be deleted', async () => {
    expect((await rejection(db.query(`delete from images where name = 'tiny'`))).code).toBe('invalid-input');
  });

  it('task rows: state rules, cascade to steps and log, NOTIFY on vlx_events', async () => {
    const got: string[] = [];
    let wake = () => {};
    const stop = await db.listen('vlx_events', (p) => {
      got.push(p);
      wake();
    });
    const r = await db.query<{ id: string }>(
      `insert into tasks (kind, target, lock_key, host) values ('vc.start', 'beta', 'vc:beta', 'ws pid 1') returning id`);
    const id = r.rows[0].id;
    while (!got.some((p) => p.includes(id))) await new Promise<void>((res) => (wake = res));
    await stop();
    expect(JSON.parse(got.find((p) => p.includes(id))!)).toEqual({ type: 'task', id, state: 'running', cancel: false });
    await db.query(`insert into task_steps (task_id, idx, name) values ($1, 0, 'a'), ($1, 1, 'b')`, [id]);
    await db.query(`insert into task_log (task_id, line) values ($1, 'hello')`, [id]);
    expect((await rejection(db.query(`update tasks set state = 'succeeded' where id = $1`, [id]))).code).toBe('invalid-input');
    expect((await rejection(db.query(`insert into task_steps (task_id, idx, name, state) values ($1, 2, 'c', 'bogus')`, [id]))).code).toBe('invalid-input');
    await db.query(`delete from tasks where id = $1`, [id]);
    expect((await db.query(`select (select count(*) from task_steps)::int + (select count(*) from task_log)::int as n`)).rows[0].n).toBe(0);
  });
});

describe('client', () => {
  it('a role whose password was set from our SCRAM verifier logs in with that password', async () => {
    const password = newDbPassword();
    await pg.superSql(`create role scram_probe login password '${scramVerifier(password)}'`);
    const stored = await pg.superSql(`select rolpassword from pg_authid where rolname = 'scram_probe'`);
    expect(stored.trim()).toMatch(/^SCRAM-SHA-256\$4096:/);
    const probe = openDb({ ...pg.endpoint, database: 'postgres', user: 'scram_probe', password });
    expect((await probe.query('select current_user as u')).rows[0].u).toBe('scram_probe');
    await probe.close();
    const wrong = openDb({ ...pg.endpoint, database: 'postgres', user: 'scram_probe', password: password + 'x' });
    expect((await rejection(wrong.query('select 1'))).code).toBe('auth-failed');
    await wrong.close();
  });

  it('roleSql makes a per-workstation login that acts as vlx, and is idempotent', async () => {
    const password = newDbPassword();
    const sql = roleSql('vlx_0badcafe', scramVerifier(password));
    await pg.superSql(sql);
    await pg.superSql(sql);
    const ws = openDb({ ...pg.endpoint, user: 'vlx_0badcafe', password });
    expect((await ws.query('select current_user as u, session_user as s')).rows[0]).toEqual({ u: 'vlx', s: 'vlx_0badcafe' });
    await ws.query('create table made_by_workstation (x int)');
    expect((await ws.query(`select tableowner from pg_tables where tablename = 'made_by_workstation'`)).rows[0].tableowner).toBe('vlx');
    await ws.query('drop table made_by_workstation');
    await ws.close();
  });

  it('a wrong password is auth-failed, a closed port is unreachable', async () => {
    const wrong = openDb({ ...pg.endpoint, password: 'not-it' });
    expect((await rejection(wrong.query('select 1'))).code).toBe('auth-failed');
    await wrong.close();
    const closed = openDb({ ...pg.endpoint, port: 1 });
    const err = await rejection(closed.query('select 1'));
    expect(err.code).toBe('unreachable');
    expect(err.message).toContain('127.0.0.1:1');
    await closed.close();
  });

  it('a cluster without a database points at `vlx db deploy`', () => {
    let err: VlxError | undefined;
    try {
      openClusterDb({ name: 'c1', nodes: [], user: 'root', port: 22, lab: false });
    } catch (e) {
      err = e as VlxError;
    }
    expect(err?.code).toBe('not-found');
    expect(err?.hint).toContain('vlx db deploy');
  });

  it('an advisory lock is exclusive across connections, fails fast, and is released after', async () => {
    const db = await fresh();
    await migrate(db);
    let release = () => {};
    const held = db.withAdvisoryLock('vc:web', () => new Promise<void>((res) => (release = res)));
    while (!(await db.isLocked('vc:web'))) await new Promise((r) => setImmediate(r));
    const other = openDb({ ...pg.endpoint, database: (await db.query('select current_database() as d')).rows[0].d });
    opened.push(other);
    const err = await rejection(other.withAdvisoryLock('vc:web', async () => 'never'));
    expect(err.code).toBe('conflict');
    expect(err.message).toMatch(/"vc:web" is locked by vlx .* pid \d+/);
    release();
    await held;
    expect(await db.isLocked('vc:web')).toBe(false);
    expect(await other.withAdvisoryLock('vc:web', async () => 'got it')).toBe('got it');
  });
});

// Needs the lab (global setup brings it up) and runs against the app home of this test run.
describe('deploy on lab nodes n1..n3 (the report\'s `setup.sh -n 2 -p 5432`, made highly available)', () => {
  let session: ReturnType<typeof openCluster>;
  beforeAll(async () => {
    session = openCluster(getCluster('lab'));
  });
  afterAll(async () => {
    await session?.close();
  });

  async function deploy(): Promise<{ ep: DbEndpoint; notes: string[] }> {
    const notes: string[] = [];
    const ep = await deployDatabase(session, { nodes: ['n1', 'n2', 'n3'], port: 5432, onProgress: (p: DeployProgress) => notes.push(`${p.step}: ${p.note}`) });
    return { ep, notes };
  }

  it('deploys, the primary is reachable from the workstation on port 5432, and a second deploy changes nothing', async () => {
    const first = await deploy();
    expect(first.ep).toMatchObject({ port: 5432, database: 'virtualinux', members: [
      { node: 'n1', host: '10.77.0.1' }, { node: 'n2', host: '10.77.0.2' }, { node: 'n3', host: '10.77.0.3' }] });
    expect(first.ep.user).toMatch(LOGIN_ROLE);
    const second = await deploy();
    expect(second.ep).toEqual(first.ep);
    expect(second.notes).toEqual(expect.arrayContaining(['migrate: schema up to date', 'record: manifest already up to date']));
    // nothing was started, copied or made the second time
    expect(second.notes.join('\n')).not.toMatch(/started|copied|made|initialises|moved aside/);

    const db = openDb(second.ep);
    opened.push(db);
    const r = await db.query(`select host(inet_server_addr()) as addr, inet_server_port() as port, current_user as u, (select count(*)::int from schema_migrations) as n, pg_is_in_recovery() as ro`);
    expect(r.rows[0]).toEqual({ addr: second.ep.host, port: 5432, u: 'vlx', n: MIGRATIONS.length, ro: false });
    // the app role is not a superuser: only the local peer login on the node is
    expect((await db.query(`select rolsuper from pg_roles where rolname = current_user`)).rows[0].rolsuper).toBe(false);
  });

  it('keeps the password only in the app config (mode 0600); the manifest gets the endpoint without it', async () => {
    const ep = getCluster('lab').db!;
    expect(statSync(appPaths.clusters()).mode & 0o777).toBe(0o600);
    const conn = await session.node('n2');
    const manifest = JSON.parse(await conn.run('cat /srv/virtualinux/manifest.json'));
    expect(manifest.db).toMatchObject({ port: 5432, members: ep.members });
    expect(Object.keys(manifest.db).sort()).toEqual(['host', 'members', 'node', 'port']);
    // The password is nowhere on the node: not in PostgreSQL's files or logs, not on shared storage.
    const found = await conn.exec('grep -rqF -f - /var/lib/virtualinux/pg /srv/virtualinux/manifest.json', { stdin: ep.password + '\n' });
    expect(found.code).toBe(1);
  });

  it('a workstation without credentials gets a login of its own; the others keep theirs', async () => {
    const before = getCluster('lab');
    const other = before.db!;
    const { db: _dropped, ...rest } = before;
    putCluster(rest);
    const { ep } = await deploy();
    expect(ep.user).toMatch(LOGIN_ROLE);
    expect(ep.user).not.toBe(other.user);
    expect(ep.password).not.toBe(other.password);
    expect(getCluster('lab').db).toEqual(ep);
    for (const cred of [other, ep]) {
      const db = openDb(cred);
      expect((await db.query('select current_user as u, session_user as s')).rows[0]).toEqual({ u: 'vlx', s: cred.user });
      await db.close();
    }
    const wrong = openDb({ ...ep, password: other.password });
    expect((await rejection(wrong.query('select 1'))).code).toBe('auth-failed');
    await wrong.close();
  });

  it.each([
    [{ nodes: ['n2;reboot'] }, 'invalid-input', 'nodes: must be 1-32 chars'],
    [{ nodes: ['n2'], port: 0 }, 'invalid-input', 'port: must be a whole number from 1 to 65535'],
    [{ nodes: ['n9'] }, 'not-found', 'has no node "n9"'],
    [{ nodes: [] }, 'invalid-input', 'nodes: name at least one node'],
    [{ nodes: ['n1', 'n2', 'n1'] }, 'invalid-input', 'nodes: n1 is named twice'],
  ])('refuses %j', async (opts, code, message) => {
    const err = await rejection(deployDatabase(session, opts));
    expect(err.code).toBe(code);
    expect(err.message).toContain(message);
  });
});
