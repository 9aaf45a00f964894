import { VlxError } from '../errors.js';
import { checkName } from '../util/names.js';

/**
 * The pure rules of VC snapshots: the tree of tags, the chains of files under each VM's disk,
 * and what taking, rolling back to or deleting a snapshot has to do to those files. No I/O:
 * the workflows (main/workflows/snapshot.ts) act on these plans.
 *
 * The model: a snapshot freezes the file each VM's disk was writing to (its "disk") and the
 * VM goes on writing to a new overlay on top of it. So each frozen file backs onto the frozen
 * file of the parent snapshot (or the OS image for the first one), and a VM's chain is its
 * overlay, then the disks of its head snapshot and of every ancestor, then the image.
 */
export interface SnapshotDisk {
  vm: string;
  /** The frozen file. */
  disk: string;
  /** The overlay the VM moved on to when the snapshot was taken. */
  overlay: string;
  stateFile: string | null;
  bytes: number | null;
}

export interface SnapshotRec {
  tag: string;
  parent: string | null;
  state: 'taking' | 'ready' | 'deleting';
  withMemory: boolean;
  wasRunning: boolean;
  pauseMs: number | null;
  createdAt: string;
  disks: SnapshotDisk[];
}

/** The file a VM writes to now and the snapshot under it. */
export interface DiskHead {
  vm: string;
  disk: string;
  onTag: string | null;
}

export function checkTag(tag: unknown, field = 'tag'): string {
  return checkName('tag', tag, field);
}

/** A new tag must be a name and not taken in this VC (an unfinished take of the same tag is resumed, not refused). */
export function checkNewTag(tag: unknown, existing: readonly Pick<SnapshotRec, 'tag' | 'state'>[], vc: string): string {
  const t = checkTag(tag);
  const have = existing.find((s) => s.tag === t);
  if (have && have.state !== 'taking') throw new VlxError('conflict', `tag: VC ${vc} already has a snapshot "${t}"`, 'choose another tag, or delete that snapshot first');
  return t;
}

export function findSnapshot(snaps: readonly SnapshotRec[], tag: string, vc: string): SnapshotRec {
  const s = snaps.find((x) => x.tag === tag);
  if (!s) throw new VlxError('not-found', `tag: VC ${vc} has no snapshot "${tag}"`, `see \`vlx vc snapshot list ${vc}\``);
  return s;
}

export interface SnapshotTreeNode {
  tag: string;
  snapshot: SnapshotRec;
  /** The VC runs on this snapshot now (its VMs' overlays back onto it). */
  current: boolean;
  children: SnapshotTreeNode[];
}

/** The tags as a tree by parent, oldest first at each level; a parent that is gone makes its child a root. */
export function snapshotTree(snaps: readonly SnapshotRec[], head: string | null): SnapshotTreeNode[] {
  const byTag = new Map(snaps.map((s) => [s.tag, { tag: s.tag, snapshot: s, current: s.tag === head, children: [] as SnapshotTreeNode[] }]));
  const roots: SnapshotTreeNode[] = [];
  const order = [...snaps].sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.tag.localeCompare(b.tag));
  for (const s of order) {
    const node = byTag.get(s.tag)!;
    const parent = s.parent ? byTag.get(s.parent) : undefined;
    (parent && parent !== node ? parent.children : roots).push(node);
  }
  return roots;
}

/** The snapshot and its ancestors, nearest first; stops at a loop or a missing parent. */
export function ancestry(snaps: readonly SnapshotRec[], tag: string | null): SnapshotRec[] {
  const out: SnapshotRec[] = [];
  const seen = new Set<string>();
  for (let t = tag; t && !seen.has(t);) {
    seen.add(t);
    const s = snaps.find((x) => x.tag === t);
    if (!s) break;
    out.push(s);
    t = s.parent;
  }
  return out;
}

/** A VM's chain of files, top first: its overlay, then the disks of its head snapshot and its ancestors. */
export function chainOf(vm: string, head: DiskHead, snaps: readonly SnapshotRec[]): string[] {
  const files = [head.disk];
  for (const s of ancestry(snaps, head.onTag)) {
    const d = s.disks.find((x) => x.vm === vm);
    if (d && d.disk !== files[files.length - 1]) files.push(d.disk);
  }
  return files;
}

export interface RollbackStep {
  vm: string;
  /** The new overlay the VM will write to. */
  overlay: string;
  /** The snapshot's frozen file it backs onto. */
  backing: string;
  /** The overlay the VM wrote to until now: not part of any snapshot, so it goes. */
  discard: string | null;
  /** The RAM state to start from (a snapshot with memory). */
  stateFile: string | null;
}

/** For each VM: a new overlay on the snapshot's file, the old overlay discarded (never a snapshot's file). */
export function planRollback(snap: SnapshotRec, heads: readonly DiskHead[], snaps: readonly SnapshotRec[], vms: readonly string[],
  overlayOf: (vm: string) => string): RollbackStep[] {
  const frozen = new Set(snaps.flatMap((s) => s.disks.map((d) => d.disk)));
  return vms.map((vm) => {
    const d = snap.disks.find((x) => x.vm === vm);
    if (!d) throw new VlxError('conflict', `snapshot ${snap.tag} has no disk of VM ${vm}`);
    const head = heads.find((h) => h.vm === vm);
    const discard = head && !frozen.has(head.disk) ? head.disk : null;
    return { vm, overlay: overlayOf(vm), backing: d.disk, discard, stateFile: snap.withMemory ? d.stateFile : null };
  });
}

export interface MergeStep {
  vm: string;
  /** A file that backs onto the deleted snapshot's file. */
  file: string;
  /** Where it backs onto afterwards: the parent snapshot's file, or the VM's image. */
  newBacking: string;
  /** stream: the VM runs with this file in its chain, so its QEMU copies the data (block-stream); rebase: qemu-img, offline. */
  via: 'stream' | 'rebase';
}

export interface DeletePlan {
  merges: MergeStep[];
  /** Files that go once every merge is done: the snapshot's disks and RAM states. */
  remove: string[];
  /** Snapshots whose parent becomes the deleted one's parent. */
  reparent: string[];
}

/**
 * Deleting a snapshot keeps the data of both neighbours: every file that backs onto its frozen
 * file (child snapshots' files and overlays of VMs on it) gets that file's data copied in and
 * backs onto the parent's file instead. Only then is the frozen file removed. A stream is
 * used where a running QEMU holds the child file open; qemu-img could not write it then.
 */
export function planDelete(snap: SnapshotRec, snaps: readonly SnapshotRec[], heads: readonly DiskHead[], running: ReadonlySet<string>,
  imageDisk: string): DeletePlan {
  const parent = snap.parent ? snaps.find((s) => s.tag === snap.parent) : undefined;
  const children = snaps.filter((s) => s.parent === snap.tag && s.tag !== snap.tag);
  const merges: MergeStep[] = [];
  for (const d of snap.disks) {
    const newBacking = parent?.disks.find((x) => x.vm === d.vm)?.disk ?? imageDisk;
    const head = heads.find((h) => h.vm === d.vm);
    const chain = head && running.has(d.vm) ? chainOf(d.vm, head, snaps) : [];
    const files = children.map((c) => c.disks.find((x) => x.vm === d.vm)?.disk).filter((f): f is string => Boolean(f));
    if (head && head.onTag === snap.tag) files.push(head.disk);
    for (const file of [...new Set(files)]) {
      if (file === d.disk) continue;
      merges.push({ vm: d.vm, file, newBacking, via: chain.includes(file) ? 'stream' : 'rebase' });
    }
  }
  const remove = snap.disks.flatMap((d) => [d.disk, ...(d.stateFile ? [d.stateFile] : [])]);
  // A file still named by another snapshot or a head is never removed (it would be a bug in the records; refuse to lose data).
  const inUse = new Set([...snaps.filter((s) => s.tag !== snap.tag).flatMap((s) => s.disks.map((d) => d.disk)), ...heads.map((h) => h.disk)]);
  const clash = remove.find((f) => inUse.has(f));
  if (clash) throw new VlxError('conflict', `snapshot ${snap.tag}: its file ${clash} is also used elsewhere: not deleted`);
  return { merges, remove, reparent: children.map((c) => c.tag) };
}

/** Whether a pause measured across the VC meets the target (200 ms for 8 VMs, as in issue 12). */
export const PAUSE_TARGET_MS = 200;
