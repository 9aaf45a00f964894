import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { ensureVcLab, stopVcLab, expectOk, guestRun, NODES, onNode, vcService, vlx } from './vc-support.js';
import type { VcService } from '../../main/service/vcCore.js';

/**
 * What must survive: RAM across save → restore on another node, a running guest across a
 * live migration (same boot, uptime going on, same address), and a VC start killed with
 * SIGKILL half-way (re-run: everything runs, nothing twice).
 */
let s: VcService;
vi.setConfig({ testTimeout: 600_000, hookTimeout: 600_000 });

beforeAll(async () => {
  await ensureVcLab();
  s = vcService();
  for (const n of ['keep', 'killed']) if ((await s.listVcs()).some((v) => v.name === n)) expectOk(await s.destroyVc(n));
  expectOk(await s.createVc({ name: 'keep', nodes: 2, vcpus: 1, memMb: 128, diskGb: 1, swapMb: 0, image: 'tiny', subnet: 'auto' }));
  expectOk(await s.startVc('keep', 'cyclic', 'strict'));
});
afterAll(async () => {
  if (s) {
    for (const n of ['keep', 'killed']) if ((await s.listVcs()).some((v) => v.name === n)) await s.destroyVc(n);
    await s.close();
  }
  await stopVcLab();
});

const bootId = 'cat /proc/sys/kernel/random/boot_id';

describe('save → restore', () => {
  test('a file in the guest\'s tmpfs is there after a restore on a different node', async () => {
    const before = await s.vcStatus('keep');
    expect(before.vms.map((v) => v.node)).toEqual(['n1', 'n2']);
    const w = await guestRun(s, 'keep', 'vm2', `echo kept-in-ram-42 > /tmp/mark && echo before-save > /shared/saved && ${bootId}`);
    expect(w.code).toBe(0);

    expectOk(await s.saveVc('keep'));
    const saved = await s.vcStatus('keep');
    expect(saved.state).toBe('saved');
    expect(Object.keys(saved.actual)).toEqual([]);
    // Saved: the mapping is kept as the VM's last node, the state file is on shared storage.
    expect(saved.vms.map((v) => v.node)).toEqual(['n1', 'n2']);
    expect((await onNode('n3', 'test -s /srv/virtualinux/vc/keep/vm2.state && echo yes')).stdout.trim()).toBe('yes');

    // block/free puts both on n1: vm2 comes back on a node it never ran on.
    expectOk(await s.restoreVc('keep', 'block', 'free'));
    const restored = await s.vcStatus('keep');
    expect(restored.state).toBe('running');
    expect(restored.vms.map((v) => v.node)).toEqual(['n1', 'n1']);
    expect(restored.drift).toEqual([]);
    const r = await guestRun(s, 'keep', 'vm2', `cat /tmp/mark && ${bootId}`);
    expect(r.output).toContain('kept-in-ram-42');
    expect(r.output.trim().split('\n').pop()).toBe(w.output.trim().split('\n').pop());
    // The VC's shared storage is still mounted, now served by n1, and writable.
    const sh = await guestRun(s, 'keep', 'vm2', 'cat /shared/saved && echo after-restore >> /shared/saved && grep -c " /shared nfs " /proc/mounts');
    expect(sh.code).toBe(0);
    expect(sh.output).toContain('before-save');
    expect((await onNode('n4', 'cat /srv/virtualinux/vc/keep/shared/saved')).stdout).toBe('before-save\nafter-restore\n');
    expect((await onNode('n3', 'ls /srv/virtualinux/vc/keep/')).stdout).not.toMatch(/\.state/);
  });
});

describe('live migration', () => {
  test('vm2 moves n1 → n3 without a reboot and stays reachable at its address', async () => {
    const st = await s.vcStatus('keep');
    const vm2 = st.vms[1];
    const before = await guestRun(s, 'keep', 'vm2', `${bootId}; cut -d' ' -f1 /proc/uptime`);
    const [boot0, up0] = before.output.trim().split('\n');
    // A file held open across the move: NFSv3 keeps no state on the server, so n3's server
    // picks up where n1's left off (same export number, same file handles).
    expect((await guestRun(s, 'keep', 'vm2', 'exec 7>>/shared/moving; echo one >&7; echo opened')).code).toBe(0);

    const [res] = await s.moveVms([{ vc: 'keep', vm: 'vm2', to: 'n3' }]);
    expect(res).toMatchObject({ ok: true, action: 'migrate' });
    const task = (await s.vcStatus('keep')).tasks.find((t) => t.id === res.taskId);
    expect(task?.state).toBe('succeeded');

    const after = await s.vcStatus('keep');
    expect(after.vms[1].node).toBe('n3');
    expect(after.actual.vm2).toEqual(['n3']);
    expect(after.drift).toEqual([]);
    const now = await guestRun(s, 'keep', 'vm2', `${bootId}; cut -d' ' -f1 /proc/uptime`);
    const [boot1, up1] = now.output.trim().split('\n');
    expect(boot1).toBe(boot0);
    expect(Number(up1)).toBeGreaterThan(Number(up0));
    const written = await guestRun(s, 'keep', 'vm2', 'echo two >&7 && exec 7>&- && cat /shared/moving');
    expect(written.code).toBe(0);
    expect(written.output).toContain('one\ntwo');
    // The other VM, on another node, sees it through its own node's server.
    expect((await guestRun(s, 'keep', 'vm1', 'cat /shared/moving')).output).toContain('one\ntwo');
    // Reachable at the same address from another node and from the other guest.
    expect((await onNode('n4', `busybox ping -c 1 -W 3 ${vm2.address}`)).code).toBe(0);
    expect((await guestRun(s, 'keep', 'vm1', `ping -c 1 -W 3 ${vm2.address}`)).code).toBe(0);
  });

  test('refusals are per VM: unknown node, same node', async () => {
    const res = await s.moveVms([{ vc: 'keep', vm: 'vm1', to: 'n9' }, { vc: 'keep', vm: 'vm2', to: 'n3' }]);
    expect(res[0].ok).toBe(false);
    expect(res[0].error?.message).toMatch(/n9 is not a node of this cluster/);
    expect(res[1].ok).toBe(true);
  });
});

describe('kill -9 of the CLI during `vc start`', () => {
  test('a re-run ends fully running with no VM twice', async () => {
    expectOk(await s.createVc({ name: 'killed', nodes: 4, vcpus: 1, memMb: 128, diskGb: 1, swapMb: 0, image: 'tiny', subnet: 'auto' }));
    const child = spawn('bin/vlx', ['--cluster', 'lab', 'vc', 'start', 'killed', '--policy', 'cyclic', '--mode', 'strict'], { stdio: ['ignore', 'ignore', 'pipe'] });
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

    const r = await vlx(['vc', 'start', 'killed', '--policy', 'cyclic', '--mode', 'strict']);
    expect(r.code, r.stderr).toBe(0);
    const st = await s.vcStatus('killed');
    expect(st.state).toBe('running');
    expect(st.drift).toEqual([]);
    for (const v of st.vms) expect(st.actual[v.name]).toEqual([v.node]);
    // No VM twice: exactly one QEMU per VM across the whole machine (the nodes share its process table).
    const ps = await onNode('n1', `for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline 2>/dev/null | grep -o -- '/vm/''killed/vm[0-9]*.pid'; done | sort | uniq -c`);
    const counts = ps.stdout.trim().split('\n').map((l) => Number(l.trim().split(/\s+/)[0]));
    expect(counts).toEqual([1, 1, 1, 1]);
    expect(NODES.length).toBe(4);
  });
});
