// The lab comes back, database included, every time: `vlx lab down; vlx lab up` five times in
// a row, and a crash and revive of the database node. Each time a real query through the app's
// client (TLS to the pinned certificate) must answer.
import { execFile, spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getCluster } from '../../main/config/clusters.js';
import { labDir } from '../../main/config/paths.js';
import { openClusterDb } from '../../main/db/client.js';
import { holdLabLock, labStatus } from '../../main/lab/index.js';
import { LOCK_ENV } from '../../main/lab/state.js';
import { ensureLab } from './support/lab.js';

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

async function vlx(...args: string[]): Promise<CliResult> {
  try {
    const { stdout, stderr } = await promisify(execFile)('bin/vlx', args, { env: process.env });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : -1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

/** A real query through the app's client, on the current config's endpoint. */
async function dbAnswers(): Promise<{ node: string; addr: string; migrations: number }> {
  const cluster = getCluster('lab');
  const db = openClusterDb(cluster, { max: 1 });
  try {
    const r = await db.query<{ addr: string; n: number }>('select host(inet_server_addr()) as addr, (select count(*)::int from schema_migrations) as n');
    return { node: cluster.db!.node, addr: r.rows[0].addr, migrations: r.rows[0].n };
  } finally {
    await db.close();
  }
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const pidFileOf = (node: string) => join(labDir(), 'nodes', node, 'lib', 'pg', 'data', 'postmaster.pid');

let nodes = 4;
let release = () => {};
beforeAll(async () => {
  const lock = await holdLabLock();
  release = lock.release;
  process.env[LOCK_ENV] = lock.token;
  nodes = (await labStatus()).nodes.length || 4;
});
afterAll(async () => {
  try {
    await ensureLab();
  } finally {
    delete process.env[LOCK_ENV];
    release();
  }
});

describe('lab cycle', () => {
  it('`vlx lab down; vlx lab up` five times: PostgreSQL stops cleanly, and the DB answers after every up', async () => {
    const times: string[] = [];
    for (let i = 1; i <= 5; i++) {
      const t0 = Date.now();
      const down = await vlx('lab', 'down');
      const t1 = Date.now();
      expect(down.code, `cycle ${i} down: ${down.stderr}`).toBe(0);
      // pg_ctl stop -m fast removed its pid file: nothing stale is left for the next start
      expect(down.stderr).toMatch(/PostgreSQL on n\d+ stopped \(\d+\.\d s\)/);
      expect(existsSync(pidFileOf(getDbNodeGuess()))).toBe(false);
      const up = await vlx('lab', 'up', '--nodes', String(nodes));
      const t2 = Date.now();
      expect(up.code, `cycle ${i} up: ${up.stderr}`).toBe(0);
      expect(await dbAnswers()).toMatchObject({ addr: `10.77.0.${getDbNodeGuess().slice(1)}`, migrations: expect.any(Number) });
      times.push(`cycle ${i}: down ${seconds(t1 - t0)}, up ${seconds(t2 - t1)}, query ${seconds(Date.now() - t2)}`);
    }
    console.log(times.join('\n'));
  });

  it('crash and revive of the database node: PostgreSQL is back and answers (its old pid now another process)', async () => {
    const node = getCluster('lab').db!.node;
    expect((await vlx('lab', 'crash', node)).code).toBe(0);
    // A power cut leaves the pid file; after a reboot its pid is often another process of the
    // postgres user, which pg_ctl status (and the old deploy) took for the running server.
    expect(existsSync(pidFileOf(node))).toBe(true);
    const other = spawn('setpriv', ['--reuid', 'postgres', '--regid', 'postgres', '--clear-groups', 'sleep', '120'], { stdio: 'ignore' });
    try {
      writeFileSync(pidFileOf(node), `${other.pid}\n`);
      const t0 = Date.now();
      const revive = await vlx('lab', 'revive', node);
      expect(revive.code, revive.stderr).toBe(0);
      expect(revive.stderr).toContain(`removed a stale postmaster.pid: pid ${other.pid} is no postmaster`);
      expect((await dbAnswers()).addr).toBe(getCluster('lab').db!.host);
      console.log(`revive of ${node} with its database: ${seconds(Date.now() - t0)}`);
    } finally {
      other.kill();
    }
  });
});

/** The lab puts its database on n2 (n1 in a one-node lab). */
function getDbNodeGuess(): string {
  return nodes > 1 ? 'n2' : 'n1';
}
