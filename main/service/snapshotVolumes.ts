import { sh } from '../util/quote.js';
import type { VolumeNodeT } from '../api/contract.js';
import type { VcEnv } from '../cluster/env.js';
import { listVcRows } from '../cluster/repo.js';
import { headsOf, snapshotsOf } from '../cluster/snapshotRepo.js';
import { snapshotTree, type DiskHead, type SnapshotTreeNode } from '../domain/snapshotPlan.js';

/**
 * The disks of VMs whose VC has snapshots, as the real tree of their files: under the image,
 * each VM's first frozen file, then the frozen files of later snapshots (branches where a
 * rollback started one), and the overlay the VM writes to now under the snapshot it runs on.
 * Returned per VM (`vc/vm`) with the image it hangs from; VMs of VCs without snapshots are
 * not in it (the plain backing chain shows them).
 */
export interface SnapshotDiskTree {
  image: string;
  /** The image's own sizes, for when no plain VM disk brings them (qemu-img's chain does for those). */
  imageBytes: { allocated: number; virtual: number };
  roots: VolumeNodeT[];
}

const GIB = 1024 ** 3;

export async function snapshotDiskTrees(env: VcEnv): Promise<Map<string, SnapshotDiskTree>> {
  const out = new Map<string, SnapshotDiskTree>();
  const withSnapshots = (await env.db.query<{ vc: string }>('select distinct vc from disk_heads union select distinct vc from snapshots')).rows.map((r) => r.vc);
  if (withSnapshots.length === 0) return out;
  const vcs = (await listVcRows(env.db)).filter((v) => withSnapshots.includes(v.name));
  const per = await Promise.all(vcs.map(async (vc) => ({ vc, snaps: await snapshotsOf(env.db, vc.name), heads: await headsOf(env.db, env.paths, vc.name) })));
  const images = vcs.map((v) => env.paths.image(v.image).disk);
  const files = per.flatMap((p) => [...p.snaps.flatMap((s) => s.disks.map((d) => d.disk)), ...p.heads.map((h) => h.disk)]);
  const sizes = await allocatedSizes(env, [...images, ...files]);
  const virtual = new Map((await env.db.query<{ name: string; v: string | null }>('select name, virtual_bytes as v from images')).rows.map((r) => [r.name, Number(r.v ?? 0)]));
  for (const { vc, snaps, heads } of per) {
    const tree = snapshotTree(snaps, heads[0]?.onTag ?? null);
    for (const head of heads) {
      const image = env.paths.image(vc.image).disk;
      out.set(`${vc.name}/${head.vm}`, { image, imageBytes: { allocated: sizes.get(image) ?? 0, virtual: virtual.get(vc.image) ?? 0 }, roots: vmTree(vc.name, head, tree, sizes, vc.diskGb * GIB) });
    }
  }
  return out;
}

function vmTree(vc: string, head: DiskHead, tree: SnapshotTreeNode[], sizes: Map<string, number>, virtualBytes: number): VolumeNodeT[] {
  const overlay: VolumeNodeT = {
    path: head.disk, kind: 'overlay', format: 'qcow2', allocatedBytes: sizes.get(head.disk) ?? 0, virtualBytes,
    usedBy: `${vc}/${head.vm}`, vc, vm: head.vm, ...(head.onTag ? { tag: head.onTag } : {}), current: true, canReset: false, canDelete: false, children: [],
  };
  let placed = false;
  const walk = (n: SnapshotTreeNode): VolumeNodeT | undefined => {
    const d = n.snapshot.disks.find((x) => x.vm === head.vm);
    if (!d) return undefined;
    const children = n.children.map(walk).filter((c): c is VolumeNodeT => c !== undefined);
    if (head.onTag === n.tag) { children.push(overlay); placed = true; }
    return {
      path: d.disk, kind: 'snapshot', format: 'qcow2', allocatedBytes: sizes.get(d.disk) ?? d.bytes ?? 0, virtualBytes,
      usedBy: `${vc}/${head.vm}`, vc, vm: head.vm, tag: n.tag, current: n.current, canReset: false, canDelete: n.snapshot.state === 'ready', children,
    };
  };
  const roots = tree.map(walk).filter((c): c is VolumeNodeT => c !== undefined);
  return placed ? roots : [...roots, overlay];
}

async function allocatedSizes(env: VcEnv, files: string[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  if (files.length === 0) return out;
  const r = await (await env.session.any()).exec(`stat -c '%b %B %n' ${[...new Set(files)].map((f) => sh(f)).join(' ')} 2>/dev/null; true`);
  for (const l of r.stdout.split('\n')) {
    const m = /^(\d+) (\d+) (.+)$/.exec(l.trim());
    if (m) out.set(m[3]!, Number(m[1]) * Number(m[2]));
  }
  return out;
}
