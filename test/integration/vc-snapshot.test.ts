import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { cleanUpTestVcs, ensureVcLab, expectOk, guestRun, onNode, testVc, vcService } from './vc-support.js';
import type { VcService } from '../../main/service/vcCore.js';
import { deleteSnapshot, listSnapshots, rollbackTo, takeSnapshot } from '../../main/service/snapshotCore.js';
import type { TaskSummary } from '../../main/tasks/types.js';
import { taskLog as readTaskLog } from '../../main/tasks/store.js';

/**
 * VC-wide snapshots on the real lab (issue 12), one 3-VM tiny VC on three nodes, reused by
 * every test: a rollback forgets what was written after the snapshot on every VM; the VMs of
 * a memory snapshot stopped at one instant; deleting a middle snapshot keeps the data of
 * both neighbours. Data goes straight to the guest's disk (/dev/vda, O_DIRECT): the tiny
 * guest has no file system on it, and nothing may sit in a guest cache.
 */
let s: VcService;
const VC = testVc('snap');
const VMS = ['vm1', 'vm2', 'vm3'];
vi.setConfig({ testTimeout: 600_000, hookTimeout: 600_000 });

/** One 512-byte block of the guest's disk: write a word, read it back (direct I/O both ways). */
const writeBlock = (n: number, word: string) => `printf '%-512s' ${word} | dd of=/dev/vda bs=512 seek=${n} count=1 oflag=direct conv=fsync 2>/dev/null`;
const readBlock = (n: number) => `dd if=/dev/vda bs=512 skip=${n} count=1 iflag=direct 2>/dev/null | tr -d ' \\000'`;

async function onEveryVm(command: (vm: string) => string): Promise<string[]> {
  return Promise.all(VMS.map(async (vm) => {
    const r = await guestRun(s, VC, vm, command(vm), 120_000);
    expect(r.code, `${vm}: ${r.output}`).toBe(0);
    return r.output.trim();
  }));
}

async function taskLog(t: TaskSummary): Promise<string> {
  return (await readTaskLog(s.env.db, t.id, { tail: 1000 })).map((l) => l.line).join('\n');
}

beforeAll(async () => {
  await ensureVcLab();
  s = vcService();
  expectOk(await s.createVc({ name: VC, nodes: 3, vcpus: 1, memMb: 128, diskGb: 1, swapMb: 0, image: 'tiny', subnet: 'auto' }));
  expectOk(await s.startVc(VC, 'cyclic', 'free'));
});
afterAll(async () => {
  try {
    await cleanUpTestVcs(s);
  } finally {
    await s?.close();
  }
});

describe('VC snapshots', () => {
  test('bad tags are refused naming the field; an existing tag is a conflict naming tag', async () => {
    const bad = await takeSnapshot(s, VC, 'A;reboot', false).then(() => undefined, (e: unknown) => e as { code: string; message: string });
    expect(bad?.code).toBe('invalid-input');
    expect(bad?.message).toMatch(/^tag: must be 1-32 chars/);
    const t0 = Date.now();
    const t = expectOk(await takeSnapshot(s, VC, 'base', false));
    const log = await taskLog(t);
    console.log(`snapshot of 3 running VMs in ${Date.now() - t0} ms; ${log.split('\n').find((l) => l.startsWith('pause'))}`);
    expect(log).toMatch(/pause of 3 VMs: \d+ ms/);
    const again = await takeSnapshot(s, VC, 'base', false).then(() => undefined, (e: unknown) => e as { code: string; message: string });
    expect(again?.code).toBe('conflict');
    expect(again?.message).toMatch(/^tag: VC t-snap already has a snapshot "base"/);
  });

  test('1. a block written after snapshot A is gone after the rollback to A, on every VM', async () => {
    await onEveryVm((vm) => writeBlock(2048, `before-a-${vm}`));
    expectOk(await takeSnapshot(s, VC, 'a', false));
    await onEveryVm((vm) => writeBlock(2049, `after-a-${vm}`));
    expect(await onEveryVm(() => readBlock(2049))).toEqual(VMS.map((vm) => `after-a-${vm}`));
    expectOk(await rollbackTo(s, VC, 'a'));
    expect((await s.vcStatus(VC)).state).toBe('running');
    expect(await onEveryVm(() => readBlock(2049))).toEqual(['', '', '']);
    expect(await onEveryVm(() => readBlock(2048))).toEqual(VMS.map((vm) => `before-a-${vm}`));
    const list = await listSnapshots(s, VC);
    expect(list.head).toBe('a');
    expect(list.tree.map((n) => n.tag)).toEqual(['base']);
    expect(list.tree[0]!.children.map((n) => [n.tag, n.current])).toEqual([['a', true]]);
  });

  test('2. the VMs agree on the instant: a tick every VM reads from shared storage shows no VM ahead after the rollback', async () => {
    const dir = `/srv/virtualinux/vc/${VC}/shared`;
    // n4 hosts no VM of this VC: its ticker does not compete with their QEMUs for the node. The tick
    // is rewritten in place: a guest's NFS client revalidates an open file, not a name it looked up.
    const ticker = onNode('n4', `rm -f ${dir}/stop; echo 0 > ${dir}/epoch; i=0; while [ ! -e ${dir}/stop ]; do i=$((i+1)); `
      + `echo $(( $(cat ${dir}/epoch) + i )) > ${dir}/tick; sleep 0.5; done`);
    try {
      // A guest mounts the VC's shared storage in the background after it booted: wait until each one reads ticks.
      const first = await onEveryVm(() => 'i=0; while [ $i -lt 90 ] && ! [ -s /shared/tick ]; do i=$((i+1)); sleep 1; done; cat /shared/tick');
      for (const f of first) expect(Number(f)).toBeGreaterThan(0);
      // Each VM logs the tick it sees, ten times a second, into its RAM (/tmp is tmpfs).
      await onEveryVm(() => `(while true; do echo "seen $(cat /shared/tick 2>/dev/null)" >> /tmp/ticks; sleep 0.1; done) >/dev/null 2>&1 & true`);
      await new Promise((r) => setTimeout(r, 3000));
      expectOk(await takeSnapshot(s, VC, 'mem', true));
      // From now on the ticks are far apart from those before: a VM's log shows where its memory was restored.
      await onNode('n4', `echo 100000 > ${dir}/epoch`);
      await new Promise((r) => setTimeout(r, 1500));
      const t = expectOk(await rollbackTo(s, VC, 'mem'));
      expect(await taskLog(t)).toMatch(/restored on n\d/);
      // A restored guest's NFS connection is the one it had at the snapshot: it reconnects before it reads again.
      await onEveryVm(() => "i=0; while [ $i -lt 180 ] && ! grep -q 'seen [1-9][0-9][0-9][0-9][0-9][0-9]' /tmp/ticks; do i=$((i+1)); sleep 0.5; done; true");
      const lastBefore = await onEveryVm(() => `awk '$2 >= 100000 { print prev; exit } $2 != "" { prev = $2 }' /tmp/ticks`);
      const seen = lastBefore.map(Number);
      const tails = await onEveryVm(() => 'wc -l < /tmp/ticks; grep -c "seen $" /tmp/ticks; tail -n 3 /tmp/ticks | tr "\\n" " "');
      console.log(`ticks seen at the snapshot's instant: ${VMS.map((vm, i) => `${vm} ${seen[i]} (log: ${tails[i]!.replace(/\n/g, ' ')})`).join(', ')}`);
      for (const v of seen) expect(v).toBeGreaterThan(0);
      expect(Math.max(...seen) - Math.min(...seen)).toBeLessThanOrEqual(1);
      await onEveryVm(() => 'kill %1 2>/dev/null; true');
    } finally {
      await onNode('n4', `touch ${dir}/stop`);
      await ticker;
    }
  });

  test('3. deleting a middle snapshot keeps the data of both neighbours', async () => {
    await onEveryVm((vm) => writeBlock(2050, `b-${vm}`));
    expectOk(await takeSnapshot(s, VC, 'b', false));
    await onEveryVm((vm) => writeBlock(2051, `c-${vm}`));
    expectOk(await takeSnapshot(s, VC, 'c', false));
    const before = await listSnapshots(s, VC);
    const bFiles = before.tree.flatMap(function all(n): typeof before.tree { return [n, ...n.children.flatMap(all)]; }).find((n) => n.tag === 'b')!.disks.map((d) => d.disk);
    const parentOfB = before.tree.flatMap(function all(n): typeof before.tree { return [n, ...n.children.flatMap(all)]; }).find((n) => n.tag === 'b')!.parent;
    // Running: QEMU streams b's data into c's files, which its disk chain holds open.
    const t = expectOk(await deleteSnapshot(s, VC, 'b'));
    expect(await taskLog(t)).toMatch(/block-stream into .* done/);
    const after = await listSnapshots(s, VC);
    const flat = after.tree.flatMap(function all(n): typeof after.tree { return [n, ...n.children.flatMap(all)]; });
    expect(flat.map((n) => n.tag)).not.toContain('b');
    expect(flat.find((n) => n.tag === 'c')?.parent).toBe(parentOfB);
    expect((await onNode('n1', `ls ${bFiles.join(' ')} 2>&1 | grep -c 'No such file'`)).stdout.trim()).toBe(String(bFiles.length));
    // c's disks now back onto b's parent's disks, with b's data in them.
    const cDisk = flat.find((n) => n.tag === 'c')!.disks[0]!.disk;
    const parentDisk = flat.find((n) => n.tag === parentOfB)!.disks[0]!.disk;
    expect((await onNode('n1', `qemu-img info -U --output=json ${cDisk}`)).stdout).toContain(`"backing-filename": "${parentDisk}"`);
    // From disk, in a fresh boot: a's data, b's and c's.
    expectOk(await rollbackTo(s, VC, 'c'));
    expect(await onEveryVm(() => `${readBlock(2048)}; echo; ${readBlock(2050)}; echo; ${readBlock(2051)}`))
      .toEqual(VMS.map((vm) => `before-a-${vm}\nb-${vm}\nc-${vm}`));
  });
});
