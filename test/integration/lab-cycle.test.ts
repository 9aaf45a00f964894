// The lab comes back, database included, every time: `vlx lab down; vlx lab up` five times in
// a row, and a crash and revive of the database primary's node. Each time a real query through the app's
// client (TLS to the pinned certificate) must answer.
import { execFile, spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { getCluster } from '../../main/config/clusters.js';
import { labDir } from '../../main/config/paths.js';
import { openClusterDb } from '../../main/db/client.js';
import { labStatus } from '../../main/lab/index.js';
import { holdLabForThisFile } from './support/lab.js';
import { findPrimary } from '../../main/db/primary.js';
import { memberStatuses } from '../../main/db/haStatus.js';
import { labDbNodes } from '../../main/service/labStart.js';

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

/** A real query through the app's client, on whichever member is primary now. */
async function dbAnswers(): Promise<{ addr: string; migrations: number; readOnly: boolean }> {
  const cluster = getCluster('lab');
  const db = openClusterDb(cluster, { max: 1 });
  try {
    const r = await db.query<{ addr: string; n: number; ro: boolean }>('select host(inet_server_addr()) as addr, (select count(*)::int from schema_migrations) as n, pg_is_in_recovery() as ro');
    return { addr: r.rows[0].addr, migrations: r.rows[0].n, readOnly: r.rows[0].ro };
  } finally {
    await db.close();
  }
}

const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const pidFileOf = (node: string) => join(labDir(), 'nodes', node, 'lib', 'pg', 'data', 'postmaster.pid');

let nodes = 4;
holdLabForThisFile();
beforeAll(async () => {
  nodes = (await labStatus()).nodes.length || 4;
});

describe('lab cycle', () => {
  it('`vlx lab down; vlx lab up` five times: PostgreSQL stops cleanly, and the DB answers after every up', async () => {
    const times: string[] = [];
    for (let i = 1; i <= 5; i++) {
      const t0 = Date.now();
      const down = await vlx('lab', 'down');
      const t1 = Date.now();
      expect(down.code, `cycle ${i} down: ${down.stderr}`).toBe(0);
      // Patroni stopped its PostgreSQL (fast) and the pid file went: nothing stale is left for the next start
      expect(down.stderr).toMatch(/Patroni on n\d+ stopped its PostgreSQL/);
      for (const n of dbMembers()) expect(existsSync(pidFileOf(n)), n).toBe(false);
      const up = await vlx('lab', 'up', '--nodes', String(nodes));
      const t2 = Date.now();
      expect(up.code, `cycle ${i} up: ${up.stderr}`).toBe(0);
      expect(await dbAnswers()).toMatchObject({ addr: expect.stringMatching(/^10\.77\.0\.[123]$/), migrations: expect.any(Number), readOnly: false });
      times.push(`cycle ${i}: down ${seconds(t1 - t0)}, up ${seconds(t2 - t1)}, query ${seconds(Date.now() - t2)}`);
    }
    console.log(times.join('\n'));
  });

  it('crash and revive of the database primary\'s node: it is back as a member (its old pid now another process) and the DB answers', async () => {
    const node = (await findPrimary(getCluster('lab').db!)).node;
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
      // The deploy waited for every member to run again, this one included. Back within the
      // leader key's TTL, it may still be the primary: no failover was needed.
      const members = await memberStatuses(getCluster('lab').db!.members!.map((m) => ({ node: m.node, address: m.host })), getCluster('lab').db!.haTls);
      expect(members.find((m) => m.node === node)).toMatchObject({ role: expect.stringMatching(/standby|primary/), state: expect.stringMatching(/running|streaming/) });
      expect(members.filter((m) => m.role === 'primary')).toHaveLength(1);
      expect((await dbAnswers()).readOnly).toBe(false);
      console.log(`revive of ${node} with its database: ${seconds(Date.now() - t0)}`);
    } finally {
      other.kill();
    }
  });
});

/** The lab's database members (labStart): n1..n3, fewer on a smaller lab. */
function dbMembers(): string[] {
  return labDbNodes(nodes);
}
