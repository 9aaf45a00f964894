// The cluster database (Patroni members n1..n3) speaks TLS only, with one cluster certificate
// made on a member, copied to the others over SSH and pinned by this workstation like a host key.
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getCluster, putCluster, type DbEndpoint } from '../../main/config/clusters.js';
import { openClusterDb, openDb } from '../../main/db/client.js';
import { deployDatabase, type DeployProgress } from '../../main/db/deploy.js';
import { certFingerprint } from '../../main/db/tls.js';
import { VlxError } from '../../main/errors.js';
import { openCluster } from '../../main/ssh/session.js';
import type { ClusterSession } from '../../main/ssh/session.types.js';

const DATA = '/var/lib/virtualinux/pg/data';
const CERT = '/var/lib/virtualinux/pg/tls/server.crt';
const KEY = '/var/lib/virtualinux/pg/tls/server.key';

let session: ClusterSession;
const MEMBERS = ['n1', 'n2', 'n3'];

async function deploy(): Promise<{ ep: DbEndpoint; notes: string[] }> {
  const notes: string[] = [];
  const ep = await deployDatabase(session, { nodes: MEMBERS, port: 5432, onProgress: (p: DeployProgress) => notes.push(`${p.step}: ${p.note}`) });
  return { ep, notes };
}

async function rejection(p: Promise<unknown>): Promise<VlxError> {
  try {
    await p;
  } catch (e) {
    return e as VlxError;
  }
  throw new Error('expected a rejection');
}

async function vlx(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await promisify(execFile)('bin/vlx', args);
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : -1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

/** This connection's TLS state as the server sees it (pg_stat_ssl). */
async function sslOfSession(ep: DbEndpoint): Promise<{ ssl: boolean; version: string }> {
  const db = openDb(ep, { max: 1 });
  try {
    // as the login role itself (sessions act as vlx, which may not read another role's row)
    return await db.tx(async (q) => {
      await q.query('set local role none');
      return (await q.query<{ ssl: boolean; version: string }>('select ssl, version from pg_stat_ssl where pid = pg_backend_pid()')).rows[0];
    });
  } finally {
    await db.close();
  }
}

beforeAll(async () => {
  session = openCluster(getCluster('lab'));
  await deploy();
});
afterAll(async () => {
  await session?.close();
});

describe('TLS to the cluster database', () => {
  it('the app connects with TLS, to the certificate pinned in the 0600 config', async () => {
    const ep = getCluster('lab').db!;
    for (const n of MEMBERS) expect(ep.tlsCert, n).toBe(await (await session.node(n)).run(`cat ${CERT}`));
    expect(await sslOfSession(ep)).toMatchObject({ ssl: true, version: expect.stringMatching(/^TLSv1\.[23]$/) });
    const db = openClusterDb(getCluster('lab'), { max: 1 });
    expect((await db.query('select 1 as one')).rows[0].one).toBe(1);
    await db.close();
  });

  it.each(MEMBERS)('%s: the key is the postgres user\'s alone (0600), the certificate readable; hba has hostssl lines only', async (node) => {
    const conn = await session.node(node);
    expect((await conn.run(`stat -c '%U %a' ${KEY} ${CERT}`)).trim().split('\n')).toEqual(['postgres 600', 'postgres 644']);
    const hba = (await conn.run(`grep -v '^#' ${DATA}/pg_hba.conf`)).trim().split('\n').filter(Boolean).map((l) => l.split(/\s+/)[0]);
    expect(new Set(hba)).toEqual(new Set(['local', 'hostssl']));
    const settings = await conn.run(`runuser -u postgres -- psql -h /run/postgresql/vlx -Atc "select name || '=' || setting from pg_settings where name in ('ssl', 'ssl_cert_file', 'ssl_key_file') order by name" postgres`);
    expect(settings.trim().split('\n')).toEqual(['ssl=on', `ssl_cert_file=${CERT}`, `ssl_key_file=${KEY}`]);
  });

  it.each(MEMBERS)('%s refuses a connection without TLS, whatever the credentials', async (node) => {
    const ep = getCluster('lab').db!;
    const host = ep.members!.find((m) => m.node === node)!.host;
    const plain = new pg.Client({ host, port: ep.port, user: ep.user, password: ep.password, database: ep.database, ssl: false });
    plain.on('error', () => {});
    const err = await plain.connect().then(() => undefined, (e: { code?: string; message: string }) => e);
    await plain.end().catch(() => {});
    expect(err?.code).toBe('28000');
    expect(err?.message).toMatch(/no pg_hba\.conf entry for host "10\.77\.0\.254".*no encryption/);
  });

  it('a certificate other than the pinned one is refused: host-key-changed naming the cluster and the fix, CLI exit 6', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vlx-othercert-'));
    const saved = getCluster('lab');
    try {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '30',
        '-subj', '/CN=vlx-db n2', '-keyout', join(dir, 'k'), '-out', join(dir, 'c')], { stdio: 'ignore' });
      const other = readFileSync(join(dir, 'c'), 'utf8');
      putCluster({ ...saved, db: { ...saved.db!, tlsCert: other } });
      const db = openClusterDb(getCluster('lab'), { max: 1 });
      const err = await rejection(db.query('select 1'));
      await db.close();
      expect(err.code).toBe('host-key-changed');
      expect(err.message).toMatch(/^the database of cluster "lab" \(10\.77\.0\.\d:5432 on node n\d\) presented a TLS certificate that is not the one pinned at deploy: refused/);
      expect(err.hint).toContain('vlx db deploy --nodes');

      const cli = await vlx('db', 'migrate');
      expect(cli.code).toBe(6);
      expect(cli.stderr).toMatch(/the database of cluster "lab" \(10\.77\.0\.\d:5432 on node n\d\) presented a TLS certificate that is not the one pinned/);
      expect(cli.stderr).toContain('hint: if its certificate was renewed on purpose, run `vlx db deploy --nodes');
      expect(cli.stderr).not.toMatch(/\n\s+at /);
    } finally {
      putCluster(saved);
      rmSync(dir, { recursive: true, force: true });
    }
    const db = openClusterDb(getCluster('lab'), { max: 1 });
    expect((await db.query('select 1 as one')).rows[0].one).toBe(1);
    await db.close();
  });

  it('a re-deploy keeps the certificate; a missing one is made anew and re-pinned', async () => {
    const before = getCluster('lab').db!;
    const again = await deploy();
    expect(again.ep.tlsCert).toBe(before.tlsCert);
    expect(again.notes).toContain(`members: primary ${again.ep.node}; TLS certificate SHA-256 ${certFingerprint(before.tlsCert!)} on every member`);
    expect(again.notes.join('\n')).not.toMatch(/made|copied|started/);

    // one member lost its copy: it gets the cluster's again, the pin stays
    await (await session.node('n3')).run(`rm -f ${CERT} ${KEY}`);
    const healed = await deploy();
    expect(healed.ep.tlsCert).toBe(before.tlsCert);
    expect(healed.notes).toContain('members: cluster TLS certificate copied to n3');

    // every member lost it: a new one is made, served (PostgreSQL reloads it) and pinned
    for (const n of MEMBERS) await (await session.node(n)).run(`rm -f ${CERT} ${KEY}`);
    const remade = await deploy();
    expect(remade.ep.tlsCert).not.toBe(before.tlsCert);
    expect(remade.notes.some((n) => /TLS certificate made on n\d/.test(n))).toBe(true);
    expect(getCluster('lab').db?.tlsCert).toBe(remade.ep.tlsCert);
    expect(await sslOfSession(remade.ep)).toMatchObject({ ssl: true });
    // the old pin no longer opens the database: the server really serves the new certificate
    expect((await rejection(openDb({ ...remade.ep, tlsCert: before.tlsCert }, { max: 1 }).query('select 1'))).code).toBe('host-key-changed');
  });
});
