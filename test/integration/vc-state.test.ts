import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { cleanUpTestVcs, ensureVcLab, expectOk, guestRun, onNode, testVc, vcService, vlx } from './vc-support.js';
import type { VcService } from '../../main/service/vcCore.js';
import { taskLog } from '../../main/tasks/store.js';

/**
 * What must survive: RAM across save → restore on another node, a running guest across a
 * live migration (same boot, uptime going on, same address), and a VC start killed with
 * SIGKILL half-way (re-run: everything runs, nothing twice).
 */
let s: VcService;
const KEEP = testVc('keep');
const KILLED = testVc('killed');
vi.setConfig({ testTimeout: 600_000, hookTimeout: 600_000 });

beforeAll(async () => {
  await ensureVcLab();
  s = vcService();
  expectOk(await s.createVc({ name: KEEP, nodes: 2, vcpus: 1, memMb: 128, diskGb: 1, swapMb: 0, image: 'tiny', subnet: 'auto' }));
  expectOk(await s.startVc(KEEP, 'cyclic', 'strict'));
});
afterAll(async () => {
  try {
    await cleanUpTestVcs(s);
  } finally {
    await s?.close();
  }
});

const bootId = 'cat /proc/sys/kernel/random/boot_id';

describe('save → restore', () => {
  test('a file in the guest\'s tmpfs is there after a restore on a different node', async () => {
    const before = await s.vcStatus(KEEP);
    expect(before.vms.map((v) => v.node)).toEqual(['n1', 'n2']);
    const w = await guestRun(s, KEEP, 'vm2', `echo kept-in-ram-42 > /tmp/mark && echo before-save > /shared/saved && ${bootId}`);
    expect(w.code).toBe(0);

    expectOk(await s.saveVc(KEEP));
    const saved = await s.vcStatus(KEEP);
    expect(saved.state).toBe('saved');
    expect(Object.keys(saved.actual)).toEqual([]);
    // Saved: the mapping is kept as the VM's last node, the state file is on shared storage.
    expect(saved.vms.map((v) => v.node)).toEqual(['n1', 'n2']);
    expect((await onNode('n3', `test -s /srv/virtualinux/vc/${KEEP}/vm2.state && echo yes`)).stdout.trim()).toBe('yes');

    // block/free puts both on n1: vm2 comes back on a node it never ran on.
    expectOk(await s.restoreVc(KEEP, 'block', 'free'));
    const restored = await s.vcStatus(KEEP);
    expect(restored.state).toBe('running');
    expect(restored.vms.map((v) => v.node)).toEqual(['n1', 'n1']);
    expect(restored.drift).toEqual([]);
    const r = await guestRun(s, KEEP, 'vm2', `cat /tmp/mark && ${bootId}`);
    expect(r.output).toContain('kept-in-ram-42');
    expect(r.output.trim().split('\n').pop()).toBe(w.output.trim().split('\n').pop());
    // The VC's shared storage is still mounted, now served by n1, and writable.
    const sh = await guestRun(s, KEEP, 'vm2', 'cat /shared/saved && echo after-restore >> /shared/saved && grep -c " /shared nfs " /proc/mounts');
    expect(sh.code).toBe(0);
    expect(sh.output).toContain('before-save');
    expect((await onNode('n4', `cat /srv/virtualinux/vc/${KEEP}/shared/saved`)).stdout).toBe('before-save\nafter-restore\n');
    expect((await onNode('n3', `ls /srv/virtualinux/vc/${KEEP}/`)).stdout).not.toMatch(/\.state/);
  });
});

describe('live migration', () => {
  test('vm2 moves n1 → n3 without a reboot and stays reachable at its address', async () => {
    const st = await s.vcStatus(KEEP);
    const vm2 = st.vms[1];
    const before = await guestRun(s, KEEP, 'vm2', `${bootId}; cut -d' ' -f1 /proc/uptime`);
    const [boot0, up0] = before.output.trim().split('\n');
    // A file held open across the move: NFSv3 keeps no state on the server, so n3's server
    // picks up where n1's left off (same export number, same file handles).
    expect((await guestRun(s, KEEP, 'vm2', 'exec 7>>/shared/moving; echo one >&7; echo opened')).code).toBe(0);

    const [res] = await s.moveVms([{ vc: KEEP, vm: 'vm2', to: 'n3' }]);
    expect(res).toMatchObject({ ok: true, action: 'migrate' });
    const task = (await s.vcStatus(KEEP)).tasks.find((t) => t.id === res.taskId);
    expect(task?.state).toBe('succeeded');

    const after = await s.vcStatus(KEEP);
    expect(after.vms[1].node).toBe('n3');
    expect(after.actual.vm2).toEqual(['n3']);
    expect(after.drift).toEqual([]);
    const now = await guestRun(s, KEEP, 'vm2', `${bootId}; cut -d' ' -f1 /proc/uptime`);
    const [boot1, up1] = now.output.trim().split('\n');
    expect(boot1).toBe(boot0);
    expect(Number(up1)).toBeGreaterThan(Number(up0));
    const written = await guestRun(s, KEEP, 'vm2', 'echo two >&7 && exec 7>&- && cat /shared/moving');
    expect(written.code).toBe(0);
    expect(written.output).toContain('one\ntwo');
    // The other VM, on another node, sees it through its own node's server.
    expect((await guestRun(s, KEEP, 'vm1', 'cat /shared/moving')).output).toContain('one\ntwo');
    // Reachable at the same address from another node and from the other guest.
    expect((await onNode('n4', `busybox ping -c 1 -W 3 ${vm2.address}`)).code).toBe(0);
    expect((await guestRun(s, KEEP, 'vm1', `ping -c 1 -W 3 ${vm2.address}`)).code).toBe(0);
  });

  test('per VM: an unknown node is refused; a move to the node a VM is on does nothing to it', async () => {
    const before = await s.vcStatus(KEEP);
    expect(before.vms[1].node).toBe('n3');
    const boot0 = (await guestRun(s, KEEP, 'vm2', bootId)).output.trim().split('\n').pop();
    const res = await s.moveVms([{ vc: KEEP, vm: 'vm1', to: 'n9' }, { vc: KEEP, vm: 'vm2', to: 'n3' }]);
    expect(res[0].ok).toBe(false);
    expect(res[0].error?.message).toBe('to: must be a node of cluster lab (got "n9")');
    expect(res[1]).toMatchObject({ ok: true, action: 'none' });
    const log = await taskLog(s.env.db, res[1].taskId!);
    expect(log.map((l) => l.line)).toContain(`${KEEP}/vm2 is already on n3`);
    // Nothing moved, nothing restarted: same mapping, one QEMU where the DB says, same boot.
    const after = await s.vcStatus(KEEP);
    expect(after.vms.map((v) => v.node)).toEqual(before.vms.map((v) => v.node));
    expect(after.actual).toEqual(before.actual);
    expect(after.drift).toEqual([]);
    expect((await guestRun(s, KEEP, 'vm2', bootId)).output.trim().split('\n').pop()).toBe(boot0);
  });
});

describe('kill -9 of the CLI during `vc start`', () => {
  test('a re-run ends fully running with no VM twice', async () => {
    expectOk(await s.createVc({ name: KILLED, nodes: 4, vcpus: 1, memMb: 128, diskGb: 1, swapMb: 0, image: 'tiny', subnet: 'auto' }));
    const child = spawn('bin/vlx', ['--cluster', 'lab', 'vc', 'start', KILLED, '--policy', 'cyclic', '--mode', 'strict'], { stdio: ['ignore', 'ignore', 'pipe'] });
    // Kill it once a QEMU has been started and the task is waiting for guests: the middle of the step.
    await new Promise<void>((resolve, reject) => {
      let err = '';
      child.stderr.on('data', (c: Buffer) => {
        err += String(c);
        if (/running on n\d/.test(err)) resolve();
      });
      child.on('exit', () => reject(new Error(`vlx vc start ended before it could be killed:\n${err}`)));
    });
    child.kill('SIGKILL');

    const r = await vlx(['vc', 'start', KILLED, '--policy', 'cyclic', '--mode', 'strict']);
    expect(r.code, r.stderr).toBe(0);
    const st = await s.vcStatus(KILLED);
    expect(st.state).toBe('running');
    expect(st.drift).toEqual([]);
    for (const v of st.vms) expect(st.actual[v.name]).toEqual([v.node]);
    // No VM twice: exactly one QEMU per VM across the whole machine (the nodes share its process table).
    const ps = await onNode('n1', `for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline 2>/dev/null | grep -o -- '/vm/''${KILLED}/vm[0-9]*.pid'; done | sort | uniq -c`);
    const counts = ps.stdout.trim().split('\n').map((l) => Number(l.trim().split(/\s+/)[0]));
    expect(counts).toEqual([1, 1, 1, 1]);
  });
});

describe('vlx tasks resume', () => {
  test('a `vc stop` killed in its shutdown step is finished by `vlx tasks resume ID`', async () => {
    const child = spawn('bin/vlx', ['--cluster', 'lab', 'vc', 'stop', KILLED], { stdio: ['ignore', 'ignore', 'pipe'] });
    await new Promise<void>((resolve, reject) => {
      let err = '';
      child.stderr.on('data', (c: Buffer) => {
        err += String(c);
        if (/shutdown: started/.test(err)) resolve();
      });
      child.on('exit', () => reject(new Error(`vlx vc stop ended before it could be killed:\n${err}`)));
    });
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const list = await vlx(['tasks', '--json']);
    expect(list.code, list.stderr).toBe(0);
    const stop = (JSON.parse(list.stdout) as { id: string; kind: string; target: string; interrupted?: boolean }[])
      .find((t) => t.kind === 'vc.stop' && t.target === KILLED);
    expect(stop?.interrupted).toBe(true);
    const r = await vlx(['tasks', 'resume', stop!.id]);
    expect(r.code, r.stderr).toBe(0);
    const st = await s.vcStatus(KILLED);
    expect(st.state).toBe('stopped');
    expect(st.drift).toEqual([]);
    expect(Object.values(st.actual).flat()).toEqual([]);
    // A task that has succeeded has nothing left to resume.
    const again = await vlx(['tasks', 'resume', stop!.id]);
    expect(again.code).toBe(4);
    expect(again.stderr).toContain('has already succeeded');
  });
});
