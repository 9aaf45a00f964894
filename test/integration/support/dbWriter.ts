/**
 * A workstation writing to the cluster database: its own app home (VLX_HOME) and login role,
 * a stream of VC-like task inserts and updates until SIGTERM. Each acknowledged write is
 * printed as `ack ID EPOCH_MS HOST` (HOST: the member it went to), each failure as
 * `err EPOCH_MS MESSAGE`. Bundled and run as a separate process by the failover tests.
 */
import { randomUUID } from 'node:crypto';
import { openClusterDb } from '../../../main/db/client.js';
import { getCluster } from '../../../main/config/clusters.js';

const name = process.argv[2] ?? 'w';
const pauseMs = Number(process.argv[3] ?? 50);
const db = openClusterDb(getCluster('lab'), { failoverWaitMs: Number(process.env.VLX_FAILOVER_WAIT_MS ?? 30_000) });
let stop = false;
process.on('SIGTERM', () => { stop = true; });
const out = (line: string) => process.stdout.write(line + '\n');

const head = randomUUID();
await db.query(`insert into tasks (id, kind, target, lock_key, host) values ($1, 'failover.stream', $2, $2, $3)`, [head, `${name}-head`, name]);
out(`ready ${Date.now()}`);
for (let i = 0; !stop; i++) {
  const id = randomUUID();
  try {
    // insert and update in one transaction, as a task step does with its log line
    await db.tx(async (q) => {
      await q.query(`insert into tasks (id, kind, target, lock_key, host) values ($1, 'failover.write', $2, $2, $3) on conflict (id) do nothing`, [id, `${name}-${i}`, name]);
      await q.query(`update tasks set progress = $2, current_step = $3, updated_at = now() where id = $1`, [head, (i % 100) / 100, `step ${i}`]);
    });
    out(`ack ${id} ${Date.now()} ${db.where.split('@')[1]!.split(':')[0]}`);
  } catch (e) {
    out(`err ${Date.now()} ${(e as Error).message.replace(/\n/g, ' ')}`);
  }
  await new Promise((r) => setTimeout(r, pauseMs));
}
await db.close();
out(`done ${Date.now()}`);
