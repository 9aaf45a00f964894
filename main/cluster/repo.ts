import { VlxError } from '../errors.js';
import type { Queryable } from '../db/client.js';

/**
 * The VC rows of the cluster database: what should be. Every query the VC workflows make
 * lives here, so the SQL is in one place and the workflows read as steps.
 */
export interface VcRow {
  name: string;
  state: string;
  vcpus: number;
  memMb: number;
  diskGb: number;
  swapMb: number;
  image: string;
  subnet: string;
  policy: 'block' | 'cyclic';
  mode: 'strict' | 'free';
  options: Record<string, unknown>;
  createdAt: string;
  /** The number of the VC's NFS export, the same on every node. */
  shareId: number;
}

export interface VmRow {
  vc: string;
  name: string;
  idx: number;
  ip: string;
  mac: string;
  state: string;
  desiredState: string;
  /** From mapping: where it runs, or last ran when saved. */
  node: string | null;
}

/** VM states in which a VM has a QEMU process and a tap somewhere: routes and firewall follow them. */
export const ACTIVE_VM_STATES = ['starting', 'running', 'paused', 'stopping', 'saving', 'restoring', 'migrating'] as const;

const VC_COLS = `name, state, vcpus, mem_mb as "memMb", disk_gb as "diskGb", swap_mb as "swapMb", image,
  subnet::text as subnet, policy, mode, options, created_at::text as "createdAt", share_id as "shareId"`;
const VM_COLS = `v.vc, v.name, v.idx, host(v.ip) as ip, v.mac::text as mac, v.state, v.desired_state as "desiredState", m.node`;

export async function listVcRows(q: Queryable): Promise<VcRow[]> {
  return (await q.query<VcRow>(`select ${VC_COLS} from vcs order by name`)).rows;
}

export async function findVc(q: Queryable, name: string): Promise<VcRow | undefined> {
  return (await q.query<VcRow>(`select ${VC_COLS} from vcs where name = $1`, [name])).rows[0];
}

export async function getVc(q: Queryable, name: string): Promise<VcRow> {
  const vc = await findVc(q, name);
  if (!vc) throw new VlxError('not-found', `no VC named "${name}"`, 'see `vlx vc list`');
  return vc;
}

export async function vmsOf(q: Queryable, vc: string): Promise<VmRow[]> {
  return (await q.query<VmRow>(
    `select ${VM_COLS} from vms v left join mapping m on m.vc = v.vc and m.vm = v.name where v.vc = $1 order by v.idx`, [vc],
  )).rows;
}

export async function allVms(q: Queryable): Promise<VmRow[]> {
  return (await q.query<VmRow>(
    `select ${VM_COLS} from vms v left join mapping m on m.vc = v.vc and m.vm = v.name order by v.vc, v.idx`,
  )).rows;
}

export async function setVcState(q: Queryable, vc: string, state: string, extra: { policy?: string; mode?: string } = {}): Promise<void> {
  await q.query(
    `update vcs set state = $2, policy = coalesce($3, policy), mode = coalesce($4, mode) where name = $1`,
    [vc, state, extra.policy ?? null, extra.mode ?? null],
  );
}

export async function setVmState(q: Queryable, vc: string, vms: string[], state: string, desired?: string): Promise<void> {
  if (vms.length === 0) return;
  await q.query(
    `update vms set state = $3, desired_state = coalesce($4, desired_state) where vc = $1 and name = any($2::text[])`,
    [vc, vms, state, desired ?? null],
  );
}

export async function setMapping(q: Queryable, vc: string, mapping: Record<string, string>): Promise<void> {
  const vms = Object.keys(mapping);
  if (vms.length === 0) return;
  await q.query(
    `insert into mapping (vc, vm, node) select $1, u.vm, u.node from unnest($2::text[], $3::text[]) as u(vm, node)
     on conflict (vc, vm) do update set node = excluded.node, since = case when mapping.node = excluded.node then mapping.since else now() end`,
    [vc, vms, vms.map((v) => mapping[v])],
  );
}

export async function clearMapping(q: Queryable, vc: string, vms?: string[]): Promise<void> {
  if (vms) await q.query(`delete from mapping where vc = $1 and vm = any($2::text[])`, [vc, vms]);
  else await q.query(`delete from mapping where vc = $1`, [vc]);
}

export interface NodeRow {
  name: string;
  address: string;
  cores: number;
  memMb: number;
  state: string;
}

export async function listNodeRows(q: Queryable): Promise<NodeRow[]> {
  return (await q.query<NodeRow>(`select name, address, cores, mem_mb as "memMb", state from nodes order by name`)).rows;
}

export async function upsertNodes(q: Queryable, nodes: NodeRow[]): Promise<void> {
  if (nodes.length === 0) return;
  await q.query(
    `insert into nodes (name, address, cores, mem_mb, state, last_seen)
       select u.name, u.address, u.cores, u.mem, u.state, case when u.state = 'up' then now() end
       from unnest($1::text[], $2::text[], $3::int[], $4::int[], $5::text[]) as u(name, address, cores, mem, state)
     on conflict (name) do update set address = excluded.address, cores = excluded.cores, mem_mb = excluded.mem_mb,
       state = excluded.state, last_seen = coalesce(excluded.last_seen, nodes.last_seen)`,
    [nodes.map((n) => n.name), nodes.map((n) => n.address), nodes.map((n) => n.cores), nodes.map((n) => n.memMb), nodes.map((n) => n.state)],
  );
}

/** Cores and memory given to VMs that run (or are being started) on each node, other VCs' and ours. */
export async function nodeUsage(q: Queryable, exceptVc?: string): Promise<Map<string, { cores: number; memMb: number }>> {
  const r = await q.query<{ node: string; cores: number; mem: number }>(
    `select m.node, sum(c.vcpus)::int as cores, sum(c.mem_mb)::int as mem
       from mapping m join vms v on v.vc = m.vc and v.name = m.vm join vcs c on c.name = v.vc
      where v.state = any($1::text[]) and ($2::text is null or v.vc <> $2)
      group by m.node`,
    [[...ACTIVE_VM_STATES], exceptVc ?? null],
  );
  return new Map(r.rows.map((x) => [x.node, { cores: x.cores, memMb: x.mem }]));
}

export interface ImageRow {
  name: string;
  kind: 'kernel' | 'disk';
  files: { disk?: string; kernel?: string; initrd?: string };
  cmdline: string | null;
}

export async function upsertImage(q: Queryable, img: ImageRow & { virtualBytes?: number; allocatedBytes?: number }): Promise<void> {
  await q.query(
    `insert into images (name, kind, files, cmdline, virtual_bytes, allocated_bytes) values ($1, $2, $3, $4, $5, $6)
     on conflict (name) do update set kind = excluded.kind, files = excluded.files, cmdline = excluded.cmdline,
       virtual_bytes = coalesce(excluded.virtual_bytes, images.virtual_bytes), allocated_bytes = coalesce(excluded.allocated_bytes, images.allocated_bytes)`,
    [img.name, img.kind, JSON.stringify(img.files), img.cmdline, img.virtualBytes ?? null, img.allocatedBytes ?? null],
  );
}

export async function getImageRow(q: Queryable, name: string): Promise<ImageRow | undefined> {
  return (await q.query<ImageRow>(`select name, kind, files, cmdline from images where name = $1`, [name])).rows[0];
}

export interface VolumeInsert {
  path: string;
  kind: 'root' | 'swap' | 'shared' | 'state';
  format: 'qcow2' | 'dir' | 'state';
  backing: string | null;
  vc: string;
  vm: string | null;
  virtualBytes: number | null;
  allocatedBytes: number | null;
}

export async function insertVolumes(q: Queryable, vols: VolumeInsert[]): Promise<void> {
  if (vols.length === 0) return;
  const col = <K extends keyof VolumeInsert>(k: K) => vols.map((v) => v[k]);
  await q.query(
    `insert into volumes (path, kind, format, backing, vc, vm, virtual_bytes, allocated_bytes)
       select * from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::bigint[])
     on conflict (path) do nothing`,
    [col('path'), col('kind'), col('format'), col('backing'), col('vc'), col('vm'), col('virtualBytes'), col('allocatedBytes')],
  );
}

export async function deleteVolumes(q: Queryable, paths: string[]): Promise<void> {
  if (paths.length === 0) return;
  await q.query(`delete from volumes where path = any($1::text[])`, [paths]);
}

export async function volumesOf(q: Queryable, vc?: string): Promise<{ path: string; kind: string; vc: string | null; vm: string | null; node: string | null }[]> {
  return (await q.query(
    `select path, kind, vc, vm, node from volumes where ($1::text is null or vc = $1) order by path`, [vc ?? null],
  )).rows as { path: string; kind: string; vc: string | null; vm: string | null; node: string | null }[];
}

/**
 * A VC task resumes an unfinished task of the same kind from its first step not done (its
 * steps are idempotent). A task of another kind that runs since (a stop after a failed
 * start, a destroy and re-create) makes those done steps stale: resuming would skip work
 * whose effects are gone. So such tasks are closed as cancelled, naming what superseded
 * them, with their steps back to pending: if resumed, they start from the first step.
 * Only called while nobody holds the VC's lock, so no live task is touched.
 */
export async function supersedeTasks(q: Queryable, vc: string, kind: string): Promise<number> {
  const r = await q.query(
    `with stale as (
       update tasks set state = 'cancelled', ended_at = coalesce(ended_at, now()),
              error = jsonb_build_object('code', 'cancelled', 'message', 'superseded by a later ' || $2::text || ' of VC ' || $1::text)
        where (target = $1 or left(target, length($1) + 1) = $1 || '/') and kind <> $2 and state <> 'succeeded'
          and exists (select 1 from task_steps s where s.task_id = tasks.id and s.state <> 'pending')
        returning id)
     update task_steps set state = 'pending', progress = 0, note = null, started_at = null, ended_at = null
      where task_id in (select id from stale)`,
    [vc, kind],
  );
  return r.rowCount ?? 0;
}
