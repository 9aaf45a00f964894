import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { ensureVcLab, stopVcLab, expectOk, guestRun, NODES, onNode, vcService } from './vc-support.js';
import type { VcService } from '../../main/service/vcCore.js';
import { NFS_MOUNT_OPTIONS } from '../../main/images/sharedMount.js';

/**
 * Insulation: a VM of VC A reaches its own VC's VMs on other nodes but no VM of VC B; and a
 * guest that takes an address other than its own reaches nobody (nftables on every node).
 */
let s: VcService;
vi.setConfig({ testTimeout: 600_000, hookTimeout: 600_000 });

beforeAll(async () => {
  await ensureVcLab();
  s = vcService();
  for (const n of ['ins-a', 'ins-b']) if ((await s.listVcs()).some((v) => v.name === n)) expectOk(await s.destroyVc(n));
  for (const n of ['ins-a', 'ins-b']) {
    expectOk(await s.createVc({ name: n, nodes: 2, vcpus: 1, memMb: 128, diskGb: 1, swapMb: 0, image: 'tiny', subnet: 'auto' }));
    expectOk(await s.startVc(n, 'cyclic', 'free'));
  }
});
afterAll(async () => {
  if (s) {
    for (const n of ['ins-a', 'ins-b']) await s.destroyVc(n).catch(() => undefined);
    await s.close();
  }
  await stopVcLab();
});

/**
 * A guest reaches an address: up to three echoes (the first may wait on neighbour
 * resolution along the path). On failure the message carries each node's route to it, so a
 * failure says where the path broke.
 */
async function reaches(vc: string, vm: string, ip: string): Promise<void> {
  const r = await guestRun(s, vc, vm, `ping -c 3 -W 3 ${ip} | tail -n 2`, 60_000);
  if (r.code === 0) return;
  const routes = await Promise.all(NODES.map(async (n) => `${n}: ${(await onNode(n, `ip route get ${ip} 2>&1; ip neigh show ${ip}`)).stdout.trim().replace(/\n/g, ' | ')}`));
  expect.fail(`${vc}/${vm} cannot reach ${ip}: ${r.output.trim()}\n${routes.join('\n')}`);
}

describe('between VCs', () => {
  test('A reaches A across nodes, never B', async () => {
    const a = await s.vcStatus('ins-a');
    const b = await s.vcStatus('ins-b');
    expect(a.vms[0].node).not.toBe(a.vms[1].node);
    await reaches('ins-a', 'vm1', a.vms[1].address);
    for (const target of b.vms) {
      const r = await guestRun(s, 'ins-a', 'vm1', `ping -c 1 -W 2 ${target.address}`);
      expect(r.code, `ins-a/vm1 → ins-b/${target.name} ${target.address}`).not.toBe(0);
    }
    const back = await guestRun(s, 'ins-b', 'vm2', `ping -c 1 -W 2 ${a.vms[0].address}`);
    expect(back.code).not.toBe(0);
  });
});

describe('shared storage', () => {
  test('each VC sees its own share from every node, and cannot mount another VC\'s', async () => {
    const a = await s.vcStatus('ins-a');
    const b = await s.vcStatus('ins-b');
    expect(a.vms[0].node).not.toBe(a.vms[1].node);
    expect((await guestRun(s, 'ins-a', 'vm1', 'echo only-for-a > /shared/secret')).code).toBe(0);
    expect((await guestRun(s, 'ins-a', 'vm2', 'cat /shared/secret')).output).toContain('only-for-a');
    const bView = await guestRun(s, 'ins-b', 'vm1', 'grep -c " /shared nfs " /proc/mounts; ls /shared');
    expect(bView.output).not.toContain('secret');
    expect(bView.output.trim().split('\n')[0]).toBe('1');
    // Through its own gateway or through A's gateway address (also on the node): refused,
    // because A's export admits only A's subnet and B cannot take an address from it.
    const gwA = a.subnet.replace(/\.0\/\d+$/, '.1');
    const gwB = b.subnet.replace(/\.0\/\d+$/, '.1');
    for (const gw of [gwB, gwA]) {
      const r = await guestRun(s, 'ins-b', 'vm1',
        `mkdir -p /mnt/a && mount -t nfs -o ${NFS_MOUNT_OPTIONS.replace('hard', 'soft')},addr=${gw} ${gw}:/vc/ins-a /mnt/a`, 60_000);
      expect(r.code, `ins-b/vm1 mounting ${gw}:/vc/ins-a`).not.toBe(0);
    }
  });
});

describe('shared storage drift', () => {
  test('vc status flags a node whose NFS server is down; starting the running VC again repairs it', async () => {
    await onNode('n3', 'kill "$(cat /run/virtualinux/ganesha.pid)"; i=0; while kill -0 "$(cat /run/virtualinux/ganesha.pid)" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done');
    expect((await s.vcStatus('ins-a')).drift).toContain('n3: the shared storage server (NFS-Ganesha) is not running');
    expectOk(await s.startVc('ins-a', 'cyclic', 'free'));
    expect((await s.vcStatus('ins-a')).drift).toEqual([]);
    expect((await guestRun(s, 'ins-a', 'vm1', 'cat /shared/secret')).output).toContain('only-for-a');
  });
});

describe('anti-spoofing', () => {
  test('a guest that changes its address reaches nobody; back to its own, it does', async () => {
    const a = await s.vcStatus('ins-a');
    const own = a.vms[0];
    const peer = a.vms[1].address;
    const fake = own.address.replace(/\.\d+$/, '.200');
    const prefix = a.subnet.split('/')[1];
    const gw = a.subnet.replace(/\.0\/\d+$/, '.1');
    const swap = (ip: string) =>
      `ip addr flush dev eth0 && ip addr add ${ip}/${prefix} dev eth0 && ip route add default via ${gw} dev eth0 onlink`;
    const spoofed = await guestRun(s, 'ins-a', 'vm1', `${swap(fake)} && ping -c 1 -W 2 ${peer}`);
    expect(spoofed.code).not.toBe(0);
    expect((await guestRun(s, 'ins-a', 'vm1', swap(own.address))).code).toBe(0);
    await reaches('ins-a', 'vm1', peer);
  });
});
