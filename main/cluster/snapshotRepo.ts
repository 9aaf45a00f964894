import type { Queryable } from '../db/client.js';
import type { DiskHead, SnapshotRec } from '../domain/snapshotPlan.js';
import type { StoragePaths } from '../domain/storagePaths.js';

/** The snapshot rows of the cluster database (migration 006), all SQL of main/snapshots in one place. */

export async function snapshotsOf(q: Queryable, vc: string): Promise<SnapshotRec[]> {
  const rows = (await q.query<Omit<SnapshotRec, 'disks'>>(
    `select tag, parent, state, with_memory as "withMemory", was_running as "wasRunning", pause_ms as "pauseMs",
       to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as "createdAt"
     from snapshots where vc = $1 order by created_at, tag`, [vc])).rows;
  const disks = (await q.query<{ tag: string; vm: string; disk: string; overlay: string; stateFile: string | null; bytes: string | null }>(
    `select tag, vm, disk, overlay, state_file as "stateFile", bytes from snapshot_disks where vc = $1 order by tag, vm`, [vc])).rows;
  return rows.map((r) => ({
    ...r,
    disks: disks.filter((d) => d.tag === r.tag).map((d) => ({ vm: d.vm, disk: d.disk, overlay: d.overlay, stateFile: d.stateFile, bytes: d.bytes === null ? null : Number(d.bytes) })),
  }));
}

/** Every VM's head; a VM without a row runs on the disk its VC was created with. */
export async function headsOf(q: Queryable, paths: StoragePaths, vc: string): Promise<DiskHead[]> {
  const rows = (await q.query<{ vm: string; disk: string | null; onTag: string | null }>(
    `select v.name as vm, h.disk, h.on_tag as "onTag" from vms v left join disk_heads h on h.vc = v.vc and h.vm = v.name
     where v.vc = $1 order by v.idx`, [vc])).rows;
  return rows.map((r) => ({ vm: r.vm, disk: r.disk ?? paths.vm(vc, r.vm).disk, onTag: r.disk ? r.onTag : null }));
}

/** The file each VM of the VC writes to (the launch of a VM opens this one). */
export async function activeDisks(q: Queryable, paths: StoragePaths, vc: string): Promise<Map<string, string>> {
  return new Map((await headsOf(q, paths, vc)).map((h) => [h.vm, h.disk]));
}

export async function vcHead(q: Queryable, vc: string): Promise<{ tag: string | null; gen: number }> {
  const r = (await q.query<{ tag: string | null; gen: number }>('select tag, gen from snapshot_heads where vc = $1', [vc])).rows[0];
  return r ?? { tag: null, gen: 0 };
}

/** Reserve the next overlay number of the VC (never reused, so a re-run never meets a stale file of another overlay). */
export async function nextGen(q: Queryable, vc: string): Promise<number> {
  const r = await q.query<{ gen: number }>(
    `insert into snapshot_heads (vc, gen) values ($1, 1) on conflict (vc) do update set gen = snapshot_heads.gen + 1 returning gen`, [vc]);
  return r.rows[0]!.gen;
}

export async function insertSnapshot(q: Queryable, vc: string, s: { tag: string; parent: string | null; withMemory: boolean; wasRunning: boolean },
  disks: { vm: string; disk: string; overlay: string; stateFile: string | null }[]): Promise<void> {
  await q.query(`insert into snapshots (vc, tag, parent, with_memory, was_running) values ($1, $2, $3, $4, $5)`,
    [vc, s.tag, s.parent, s.withMemory, s.wasRunning]);
  await q.query(
    `insert into snapshot_disks (vc, tag, vm, disk, overlay, state_file) select $1, $2, * from unnest($3::text[], $4::text[], $5::text[], $6::text[])`,
    [vc, s.tag, disks.map((d) => d.vm), disks.map((d) => d.disk), disks.map((d) => d.overlay), disks.map((d) => d.stateFile)]);
}

export async function setHeads(q: Queryable, vc: string, heads: { vm: string; disk: string; onTag: string | null }[], vcTag: string | null): Promise<void> {
  await q.query(
    `insert into disk_heads (vc, vm, disk, on_tag) select $1, * from unnest($2::text[], $3::text[], $4::text[])
     on conflict (vc, vm) do update set disk = excluded.disk, on_tag = excluded.on_tag`,
    [vc, heads.map((h) => h.vm), heads.map((h) => h.disk), heads.map((h) => h.onTag)]);
  await q.query(`insert into snapshot_heads (vc, tag) values ($1, $2) on conflict (vc) do update set tag = excluded.tag`, [vc, vcTag]);
}

export async function finishSnapshot(q: Queryable, vc: string, tag: string, pauseMs: number | null, bytes: Map<string, number>): Promise<void> {
  await q.query(`update snapshots set state = 'ready', pause_ms = coalesce($3, pause_ms) where vc = $1 and tag = $2`, [vc, tag, pauseMs]);
  for (const [vm, b] of bytes) await q.query('update snapshot_disks set bytes = $4 where vc = $1 and tag = $2 and vm = $3', [vc, tag, vm, b]);
}

export async function setSnapshotState(q: Queryable, vc: string, tag: string, state: SnapshotRec['state']): Promise<void> {
  await q.query('update snapshots set state = $3 where vc = $1 and tag = $2', [vc, tag, state]);
}

/** The snapshot's row goes; its children and the VMs on it now hang from its parent. */
export async function dropSnapshot(q: Queryable, vc: string, tag: string, parent: string | null): Promise<void> {
  await q.query('update snapshots set parent = $3 where vc = $1 and parent = $2', [vc, tag, parent]);
  await q.query('update disk_heads set on_tag = $3 where vc = $1 and on_tag = $2', [vc, tag, parent]);
  await q.query('update snapshot_heads set tag = $3 where vc = $1 and tag = $2', [vc, tag, parent]);
  await q.query('delete from snapshots where vc = $1 and tag = $2', [vc, tag]);
}
