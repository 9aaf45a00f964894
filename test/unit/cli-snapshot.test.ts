import { describe, expect, it } from 'vitest';
import { renderSnapshotTree } from '../../main/cli/snapshot.js';
import type { SnapshotList } from '../../main/api/contract.js';
import { SnapshotList as SnapshotListSchema } from '../../main/api/contract.js';

/** `vlx vc snapshot list NAME`: the tree of tags as a person reads it, and the contract's shape of it. */
const disk = (vm: string, n: number) => ({ vm, disk: `/srv/virtualinux/vc/web/snap/${vm}.${n}.qcow2`, overlay: `/srv/virtualinux/vc/web/snap/${vm}.${n + 1}.qcow2`, stateFile: null, bytes: 2 * 1048576 });
const node = (tag: string, parent: string | null, current: boolean, children: SnapshotList['tree'] = []) => ({
  tag, parent, state: 'ready' as const, withMemory: tag === 'b', wasRunning: true, pauseMs: tag === 'a' ? 31 : null,
  createdAt: '2026-11-30T10:00:00.000Z', current, disks: [disk('vm1', 1)], children,
});

describe('vc snapshot list', () => {
  it('draws the tree with the current snapshot starred and where each VM writes', () => {
    const list: SnapshotList = {
      vc: 'web', head: 'b',
      heads: [{ vm: 'vm1', disk: '/srv/virtualinux/vc/web/snap/vm1.9.qcow2', onTag: 'b' }],
      tree: [node('a', null, false, [node('b', 'a', true), node('c', 'a', false)])],
    };
    expect(SnapshotListSchema.parse(list)).toEqual(list);
    expect(renderSnapshotTree(list)).toBe([
      '  a  (2026-11-30 10:00:00, disks only, 2.0 MiB, pause 31 ms)',
      '      vm1: /srv/virtualinux/vc/web/snap/vm1.1.qcow2  2.0 MiB',
      '  * b  (2026-11-30 10:00:00, with memory, 2.0 MiB)',
      '        vm1: /srv/virtualinux/vc/web/snap/vm1.1.qcow2  2.0 MiB',
      '    c  (2026-11-30 10:00:00, disks only, 2.0 MiB)',
      '        vm1: /srv/virtualinux/vc/web/snap/vm1.1.qcow2  2.0 MiB',
      'runs on: b',
      '  vm1 writes to /srv/virtualinux/vc/web/snap/vm1.9.qcow2',
      '',
    ].join('\n'));
  });

  it('says how to take the first one', () => {
    expect(renderSnapshotTree({ vc: 'web', head: null, heads: [], tree: [] })).toBe('web: no snapshots (take one with `vlx vc snapshot web --tag TAG`)\n');
  });
});
