import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { cleanUpTestVcs, ensureVcLab, expectOk, guestRun, onNode, testVc, vcService, vlx } from './vc-support.js';
import type { VcService } from '../../main/service/vcCore.js';
import { taskLog } from '../../main/tasks/store.js';
import { getVc } from '../../main/cluster/repo.js';
import { runScript } from '../../main/cluster/env.js';
import { vmAddress, vmIndex } from '../../main/domain/addressing.js';
import { machineFor } from '../../main/vm/machine.js';
import { hostTscKhz } from '../../main/vm/machineFacts.js';
import { renderLaunchScript } from '../../main/vm/scripts.js';
import { accelFor, launchSpec, readImageMeta } from '../../main/vm/vmOps.js';
import { ensureTemplate } from '../../main/vm/warmStart.js';

/**
 * Warm start on the lab (main/vm/warmStart.ts): VMs that are copies of one booted template
 * must each be themselves (name, address, MAC, clock, random pool, their own disk, the VC's
 * shared storage); a start cut off between the copy and the identity is finished by the next
 * one; a template that does not load is replaced and its VMs boot in full; `--cold-boot`
 * boots in full on request.
 *
 * The VC has 160 MB VMs, a shape no other test uses, so the template this file damages is
 * its own.
 */
let s: VcService;
const VC = testVc('warm');
const MEM = 160;
vi.setConfig({ testTimeout: 300_000, hookTimeout: 600_000 });

const lastLine = (out: string): string => out.replace(/\r/g, '').trim().split('\n').pop() ?? '';
const logOf = async (taskId: string): Promise<string> => (await taskLog(s.env.db, taskId)).map((l) => l.line).join('\n');

/** What a start on n1 works out for this VC: its row, image, accelerator and machine. */
async function startFacts() {
  const env = s.env;
  const conn = await env.session.node('n1');
  const vc = await getVc(env.db, VC);
  const meta = await readImageMeta(env, vc.image);
  const accel = await accelFor(env, conn, () => undefined);
  const machine = machineFor(meta, accel, accel.accel === 'tcg' ? await hostTscKhz(conn) : undefined);
  return { env, conn, vc, meta, accel, machine };
}

/** This VC's template file on shared storage (the start builds it when it is missing). */
async function templateFile(): Promise<string> {
  const { env, conn, vc, meta, accel, machine } = await startFacts();
  const img = env.paths.image(vc.image);
  return ensureTemplate(conn, env.paths, { image: vc.image, meta, kernel: img.kernel, initrd: img.initrd, machine, accel, memMb: vc.memMb, vcpus: vc.vcpus, disks: ['qcow2'] }, () => undefined);
}

beforeAll(async () => {
  await ensureVcLab();
  s = vcService();
  expectOk(await s.createVc({ name: VC, nodes: 2, vcpus: 1, memMb: MEM, diskGb: 1, swapMb: 0, image: 'tiny', subnet: 'auto' }));
});
afterAll(async () => {
  try {
    await cleanUpTestVcs(s);
  } finally {
    await s?.close();
  }
});

describe('VMs started from one template', () => {
  test('are each themselves: name, address, MAC, clock, random pool, their own disk, shared storage, each other', async () => {
    const t = expectOk(await s.startVc(VC, 'cyclic', 'strict'));
    const log = await logOf(t.id);
    for (const vm of ['vm1', 'vm2']) expect(log).toMatch(new RegExp(`${VC}/${vm}: running on n\\d \\(guest ready; warm start; guest clock from its identity: network \\+`));

    const seen: Record<string, string[]> = {};
    for (const vm of ['vm1', 'vm2']) {
      const addr = vmAddress(VC, (await getVc(s.env.db, VC)).subnet, vmIndex(vm));
      const hostNow = Math.floor(Date.now() / 1000);
      const r = await guestRun(s, VC, vm, [
        'hostname', 'cat /sys/class/net/eth0/address', "ip -o -4 addr show eth0 | awk '{print $4}'", 'date +%s',
        'cat /proc/sys/kernel/random/boot_id', 'head -c 16 /dev/urandom | od -An -tx1 | tr -d " \\n"; echo',
        // The VM's 1 GiB disk in 512-byte sectors; the template's was 1 MB.
        'cat /sys/block/vda/size', "grep -c ' /shared nfs' /proc/mounts",
      ].join('; '));
      expect(r.code).toBe(0);
      const lines = r.output.replace(/\r/g, '').trim().split('\n').slice(-8);
      const [name, mac, ip, date, bootId, random, sectors, shared] = lines;
      expect(name).toBe(vm);
      expect(mac).toBe(addr.mac);
      expect(ip).toBe(`${addr.ip}/${addr.prefix}`);
      expect(Math.abs(Number(date) - hostNow)).toBeLessThanOrEqual(5);
      expect(sectors).toBe(String(2 * 1024 * 1024));
      expect(shared).toBe('1');
      seen[vm] = [bootId, random];
    }
    // Copies of one saved state must not share their boot id or their random numbers.
    expect(seen.vm1[0]).not.toBe(seen.vm2[0]);
    expect(seen.vm1[1]).not.toBe(seen.vm2[1]);
    const vm2 = vmAddress(VC, (await getVc(s.env.db, VC)).subnet, 2).ip;
    expect((await guestRun(s, VC, 'vm1', `ping -c 2 -W 2 ${vm2} > /dev/null`, 60_000)).code).toBe(0);
    expect((await guestRun(s, VC, 'vm1', `echo from-vm1 > /shared/warm`)).code).toBe(0);
    expect(lastLine((await guestRun(s, VC, 'vm2', 'cat /shared/warm')).output)).toBe('from-vm1');
    expect((await onNode('n1', `test -s ${await templateFile()} && echo there`)).stdout.trim()).toBe('there');
  });

  test('a start again leaves running copies alone (same boot)', async () => {
    const before = lastLine((await guestRun(s, VC, 'vm1', 'cat /proc/sys/kernel/random/boot_id')).output);
    const t = expectOk(await s.startVc(VC, 'cyclic', 'strict'));
    expect(await logOf(t.id)).toMatch(new RegExp(`${VC}/vm1: already running on n\\d`));
    expect(lastLine((await guestRun(s, VC, 'vm1', 'cat /proc/sys/kernel/random/boot_id')).output)).toBe(before);
  });

  test('a start cut off after the copy, before the identity: the next start tells the waiting guest who it is', async () => {
    expectOk(await s.stopVc(VC, { timeoutS: 30 }));
    // What a workstation that died right after the launch script leaves: vm1's QEMU loaded the
    // template on n1 and waits, paused, with a guest that knows nobody.
    const { env, conn, vc, meta, accel, machine } = await startFacts();
    const spec = launchSpec(env, vc, meta, 'vm1', { accel, machine, paused: true, incoming: { kind: 'file', path: await templateFile() } });
    expect(await runScript(conn, renderLaunchScript([spec]))).toContain('started vm1');

    const t = expectOk(await s.startVc(VC, 'cyclic', 'strict'));
    const log = await logOf(t.id);
    expect(log).toMatch(new RegExp(`${VC}/vm1: running on n1 \\(guest ready; warm start`));
    expect(log).not.toMatch(new RegExp(`${VC}/vm1: already running`));
    expect(lastLine((await guestRun(s, VC, 'vm1', 'hostname')).output)).toBe('vm1');
    // One QEMU for vm1, not a second one started beside the first.
    // Anchored at QEMU's own argv[0], so the shell running pgrep does not count itself.
    const q = await onNode('n1', `pgrep -fc '^qemu-system-x86_64 -name vm1,process=qemu-vm1 .*/vm/${VC}/' || true`);
    expect(q.stdout.trim()).toBe('1');
  });

  test('a template that does not load is deleted and its VMs boot in full; the next start builds a new one', async () => {
    expectOk(await s.stopVc(VC, { timeoutS: 30 }));
    const file = await templateFile();
    // A state QEMU cannot load (what another QEMU build or a damaged file gives).
    await onNode('n1', `head -c 4096 /dev/urandom > ${file}`);
    const t = expectOk(await s.startVc(VC, 'cyclic', 'strict'));
    const log = await logOf(t.id);
    expect(log).toMatch(/warning: n\d: the warm-start template did not load \(.+\); it is deleted and vm\d(, vm\d)? boot in full/);
    for (const vm of ['vm1', 'vm2']) expect(log).toMatch(new RegExp(`${VC}/${vm}: running on n\\d \\(guest ready; guest clock: init`));
    expect((await onNode('n1', `test -e ${file} && echo there || echo gone`)).stdout.trim()).toBe('gone');
    expect(lastLine((await guestRun(s, VC, 'vm2', 'hostname')).output)).toBe('vm2');

    expectOk(await s.stopVc(VC, { timeoutS: 30 }));
    const again = await logOf(expectOk(await s.startVc(VC, 'cyclic', 'strict')).id);
    expect(again).toMatch(new RegExp(`warm start: template of tiny \\(\\w+, ${MEM} MB, 1 vCPU\\) built on n\\d`));
    expect(again).toMatch(new RegExp(`${VC}/vm1: running on n\\d \\(guest ready; warm start`));
  });

  test('vlx vc start --cold-boot boots every VM in full', async () => {
    expectOk(await s.stopVc(VC, { timeoutS: 30 }));
    const r = await vlx(['vc', 'start', VC, '--cold-boot']);
    expect(r.code, r.stderr).toBe(0);
    const out = r.stdout + r.stderr;
    for (const vm of ['vm1', 'vm2']) expect(out).toMatch(new RegExp(`${VC}/${vm}: running on n\\d \\(guest ready; guest clock: init`));
    expect(out).not.toContain('warm start');
  });
});
