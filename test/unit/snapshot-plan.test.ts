import { describe, expect, it } from 'vitest';
import {
  ancestry, chainOf, checkNewTag, checkTag, findSnapshot, planDelete, planRollback, snapshotTree, type DiskHead, type SnapshotRec,
} from '../../main/domain/snapshotPlan.js';
import { storagePaths } from '../../main/domain/storagePaths.js';
import { VlxError } from '../../main/errors.js';

/**
 * The pure rules of VC snapshots: tags, the tree, each VM's chain of files, and what a
 * rollback and a deletion do to those files. Files are named as the workflows name them.
 */
const P = storagePaths('/srv/virtualinux');
const IMAGE = P.image('tiny').disk;
const base = (vm: string) => P.vm('web', vm).disk;
const ov = (vm: string, gen: number) => P.snapshotOverlay('web', vm, gen);
const VMS = ['vm1', 'vm2'];

function snap(tag: string, parent: string | null, disk: (vm: string) => string, overlay: (vm: string) => string, at: string, extra: Partial<SnapshotRec> = {}): SnapshotRec {
  return {
    tag, parent, state: 'ready', withMemory: false, wasRunning: true, pauseMs: 12, createdAt: at,
    disks: VMS.map((vm) => ({ vm, disk: disk(vm), overlay: overlay(vm), stateFile: null, bytes: 1024 })), ...extra,
  };
}

// A → B → C taken in a row; the VMs run on overlay 3 on top of C.
const A = snap('a', null, base, (vm) => ov(vm, 1), '2026-11-30T10:00:00.000Z');
const B = snap('b', 'a', (vm) => ov(vm, 1), (vm) => ov(vm, 2), '2026-11-30T10:01:00.000Z');
const C = snap('c', 'b', (vm) => ov(vm, 2), (vm) => ov(vm, 3), '2026-11-30T10:02:00.000Z');
const LINE = [A, B, C];
const onC: DiskHead[] = VMS.map((vm) => ({ vm, disk: ov(vm, 3), onTag: 'c' }));

describe('tags', () => {
  it('follow the name rule and name the field', () => {
    expect(checkTag('before-upgrade')).toBe('before-upgrade');
    for (const bad of ['', 'A', '1a', 'a b', 'a;reboot', 'a/../b', 'a'.repeat(33), 7, undefined]) {
      expect(() => checkTag(bad), String(bad)).toThrow(/^tag: must be 1-32 chars/);
    }
  });

  it('a taken tag is a conflict naming tag; an unfinished take of it is resumed', () => {
    const e = (() => { try { checkNewTag('b', LINE, 'web'); } catch (x) { return x as VlxError; } })();
    expect(e?.code).toBe('conflict');
    expect(e?.message).toBe('tag: VC web already has a snapshot "b"');
    expect(checkNewTag('b', [{ tag: 'b', state: 'taking' }], 'web')).toBe('b');
    expect(checkNewTag('d', LINE, 'web')).toBe('d');
    expect(() => findSnapshot(LINE, 'zz', 'web')).toThrow(/^tag: VC web has no snapshot "zz"/);
  });
});

describe('the tree', () => {
  it('nests by parent, oldest first, and marks the head', () => {
    const D = snap('d', 'a', (vm) => ov(vm, 4), (vm) => ov(vm, 5), '2026-11-30T10:03:00.000Z');
    const t = snapshotTree([D, C, A, B], 'd');
    const show = (n: (typeof t)[number]): unknown => [n.tag, n.current, n.children.map(show)];
    expect(t.map(show)).toEqual([['a', false, [['b', false, [['c', false, []]]], ['d', true, []]]]]);
  });

  it('a snapshot whose parent is gone becomes a root; a loop never hangs', () => {
    expect(snapshotTree([B], null).map((n) => n.tag)).toEqual(['b']);
    const loopA = { ...A, parent: 'b' };
    expect(ancestry([loopA, B], 'b').map((s) => s.tag)).toEqual(['b', 'a']);
  });

  it("a VM's chain: its overlay, then its head's disk and every ancestor's", () => {
    expect(chainOf('vm1', onC[0]!, LINE)).toEqual([ov('vm1', 3), ov('vm1', 2), ov('vm1', 1), base('vm1')]);
    expect(chainOf('vm2', { vm: 'vm2', disk: base('vm2'), onTag: null }, LINE)).toEqual([base('vm2')]);
  });
});

describe('rollback', () => {
  it('puts a new overlay on the snapshot\'s files and discards the old overlays only', () => {
    const plan = planRollback(A, onC, LINE, VMS, (vm) => ov(vm, 6));
    expect(plan).toEqual(VMS.map((vm) => ({ vm, overlay: ov(vm, 6), backing: base(vm), discard: ov(vm, 3), stateFile: null })));
  });

  it('never discards a frozen file, and takes the RAM state of a memory snapshot', () => {
    const M = { ...C, withMemory: true, disks: C.disks.map((d) => ({ ...d, stateFile: P.snapshotState('web', 'c', d.vm) })) };
    const weird: DiskHead[] = [{ vm: 'vm1', disk: ov('vm1', 2), onTag: 'b' }];
    const plan = planRollback(M, weird, [A, B, M], ['vm1'], (vm) => ov(vm, 7));
    expect(plan[0]).toMatchObject({ discard: null, stateFile: '/srv/virtualinux/vc/web/snap/c/vm1.state' });
  });
});

describe('delete', () => {
  it('a middle snapshot: its child\'s files take its data and back onto its parent (stream where the VM runs)', () => {
    const plan = planDelete(B, LINE, onC, new Set(VMS), IMAGE);
    expect(plan.merges).toEqual(VMS.map((vm) => ({ vm, file: ov(vm, 2), newBacking: base(vm), via: 'stream' })));
    expect(plan.remove).toEqual(VMS.map((vm) => ov(vm, 1)));
    expect(plan.reparent).toEqual(['c']);
  });

  it('offline (stopped VMs, or a branch no VM runs on) it is a qemu-img rebase', () => {
    expect(planDelete(B, LINE, onC, new Set(), IMAGE).merges.every((m) => m.via === 'rebase')).toBe(true);
    // VMs on another branch (d on a): c's files are in no running chain.
    const D = snap('d', 'a', (vm) => ov(vm, 4), (vm) => ov(vm, 5), '2026-11-30T10:03:00.000Z');
    const onD: DiskHead[] = VMS.map((vm) => ({ vm, disk: ov(vm, 5), onTag: 'd' }));
    expect(planDelete(B, [...LINE, D], onD, new Set(VMS), IMAGE).merges.map((m) => m.via)).toEqual(['rebase', 'rebase']);
  });

  it('the snapshot the VMs run on: their overlays take its data', () => {
    const plan = planDelete(C, LINE, onC, new Set(['vm1']), IMAGE);
    expect(plan.merges).toEqual([
      { vm: 'vm1', file: ov('vm1', 3), newBacking: ov('vm1', 1), via: 'stream' },
      { vm: 'vm2', file: ov('vm2', 3), newBacking: ov('vm2', 1), via: 'rebase' },
    ]);
    expect(plan.reparent).toEqual([]);
  });

  it('the first snapshot: children back onto the image; a snapshot with two children merges into both', () => {
    const D = snap('d', 'a', (vm) => ov(vm, 4), (vm) => ov(vm, 5), '2026-11-30T10:03:00.000Z');
    const plan = planDelete(A, [...LINE, D], onC, new Set(), IMAGE);
    expect(plan.merges.map((m) => [m.vm, m.file, m.newBacking])).toEqual([
      ['vm1', ov('vm1', 1), IMAGE], ['vm1', ov('vm1', 4), IMAGE], ['vm2', ov('vm2', 1), IMAGE], ['vm2', ov('vm2', 4), IMAGE],
    ]);
    expect(plan.remove).toEqual(VMS.map(base));
    expect(plan.reparent).toEqual(['b', 'd']);
  });

  it('a leaf no VM runs on merges nothing; its RAM states go with it', () => {
    const M = { ...C, withMemory: true, disks: C.disks.map((d) => ({ ...d, stateFile: P.snapshotState('web', 'c', d.vm) })) };
    const onB: DiskHead[] = VMS.map((vm) => ({ vm, disk: ov(vm, 8), onTag: 'b' }));
    const plan = planDelete(M, [A, B, M], onB, new Set(VMS), IMAGE);
    expect(plan.merges).toEqual([]);
    expect(plan.remove).toEqual(VMS.flatMap((vm) => [ov(vm, 2), P.snapshotState('web', 'c', vm)]));
  });

  it('refuses to remove a file another snapshot or a VM still uses', () => {
    const clash = { ...B, disks: B.disks.map((d) => ({ ...d, disk: ov(d.vm, 3) })) };
    expect(() => planDelete(clash, [A, clash, C], onC, new Set(), IMAGE)).toThrow(/is also used elsewhere: not deleted/);
  });
});

describe('paths', () => {
  it('overlays are numbered per VM under the VC; states per tag; names are checked', () => {
    expect(ov('vm1', 12)).toBe('/srv/virtualinux/vc/web/snap/vm1.12.qcow2');
    expect(P.snapshotState('web', 'pre-up', 'vm2')).toBe('/srv/virtualinux/vc/web/snap/pre-up/vm2.state');
    expect(() => P.snapshotOverlay('web', 'vm1', 0)).toThrow(/overlay number/);
    expect(() => P.snapshotState('web', '../x', 'vm1')).toThrow(/^tag: /);
  });
});
