import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { cleanUpTestVcs, ensureVcLab, expectOk, guestRun, NODES, onNode, testVc, vcService } from './vc-support.js';
import type { VcService } from '../../main/service/vcCore.js';
import { NFS_MOUNT_OPTIONS } from '../../main/images/sharedMount.js';

/**
 * Insulation: a VM of VC A reaches its own VC's VMs on other nodes but no VM of VC B; and a
 * guest that takes an address other than its own reaches nobody (nftables on every node).
 */
let s: VcService;
const A = testVc('ins-a');
const B = testVc('ins-b');
vi.setConfig({ testTimeout: 600_000, hookTimeout: 600_000 });

beforeAll(async () => {
  await ensureVcLab();
  s = vcService();
  for (const n of [A, B]) {
    expectOk(await s.createVc({ name: n, nodes: 2, vcpus: 1, memMb: 128, diskGb: 1, swapMb: 0, image: 'tiny', subnet: 'auto' }));
    expectOk(await s.startVc(n, 'cyclic', 'free'));
  }
});
afterAll(async () => {
  try {
    await cleanUpTestVcs(s);
  } finally {
    await s?.close();
  }
});

/**
 * Three echoes (the first may wait on neighbour resolution along the path), judged by ping's
 * own exit status (0: at least one reply), not by the status of a pipe's last command.
 * `(exit $r)` sets the status the console reads without ending the guest's shell.
 */
const ping3 = (ip: string): string => `{ rm -f /tmp/ping.out; ping -c 3 -W 2 ${ip} >/tmp/ping.out; r=$?; tail -n 2 /tmp/ping.out; (exit $r); }`;

/** What ping prints when all three echoes went out and none came back (not "bad address" or the like). */
const NO_REPLY = /3 packets transmitted, 0 packets received/;

/** A guest reaches an address; failing, the message carries each node's route to it, saying where the path broke. */
async function reaches(vc: string, vm: string, ip: string): Promise<void> {
  const r = await guestRun(s, vc, vm, ping3(ip), 60_000);
  if (r.code === 0) return;
  const routes = await Promise.all(NODES.map(async (n) => `${n}: ${(await onNode(n, `ip route get ${ip} 2>&1; ip neigh show ${ip}`)).stdout.trim().replace(/\n/g, ' | ')}`));
  expect.fail(`${vc}/${vm} cannot reach ${ip}: ${r.output.trim()}\n${routes.join('\n')}`);
}

describe('between VCs', () => {
  test('A reaches A across nodes, never B', async () => {
    const a = await s.vcStatus(A);
    const b = await s.vcStatus(B);
    expect(a.vms[0].node).not.toBe(a.vms[1].node);
    await reaches(A, 'vm1', a.vms[1].address);
    for (const target of b.vms) {
      const r = await guestRun(s, A, 'vm1', ping3(target.address), 60_000);
      expect(r.output, `${A}/vm1 → ${B}/${target.name} ${target.address}`).toMatch(NO_REPLY);
      expect(r.code).not.toBe(0);
    }
    const back = await guestRun(s, B, 'vm2', ping3(a.vms[0].address), 60_000);
    expect(back.output, `${B}/vm2 → ${A}/vm1`).toMatch(NO_REPLY);
    expect(back.code).not.toBe(0);
  });
});

describe('shared storage', () => {
  test('each VC sees its own share from every node, and cannot mount another VC\'s', async () => {
    const a = await s.vcStatus(A);
    const b = await s.vcStatus(B);
    expect(a.vms[0].node).not.toBe(a.vms[1].node);
    expect((await guestRun(s, A, 'vm1', 'echo only-for-a > /shared/secret')).code).toBe(0);
    expect((await guestRun(s, A, 'vm2', 'cat /shared/secret')).output).toContain('only-for-a');
    const bView = await guestRun(s, B, 'vm1', 'grep -c " /shared nfs " /proc/mounts; ls /shared');
    expect(bView.output).not.toContain('secret');
    expect(bView.output.trim().split('\n')[0]).toBe('1');
    // One mount command for all three tries. The control: B mounts its own share through its
    // own gateway and sees its file. Then A's share, through B's gateway or through A's
    // gateway address (also on the node): refused, because A's export admits only A's
    // subnet and B cannot take an address from it.
    const gwA = a.subnet.replace(/\.0\/\d+$/, '.1');
    const gwB = b.subnet.replace(/\.0\/\d+$/, '.1');
    const mount = (gw: string, vc: string) =>
      `mkdir -p /mnt/x && mount -t nfs -o ${NFS_MOUNT_OPTIONS.replace('hard', 'soft')},addr=${gw} ${gw}:/vc/${vc} /mnt/x`;
    expect((await guestRun(s, B, 'vm2', 'echo only-for-b > /shared/mine')).code).toBe(0);
    const own = await guestRun(s, B, 'vm1', `${mount(gwB, B)} && cat /mnt/x/mine && umount /mnt/x`, 60_000);
    expect(own.code, `${B}/vm1 mounting its own ${gwB}:/vc/${B}: ${own.output}`).toBe(0);
    expect(own.output).toContain('only-for-b');
    for (const gw of [gwB, gwA]) {
      const r = await guestRun(s, B, 'vm1', mount(gw, A), 60_000);
      expect(r.code, `${B}/vm1 mounting ${gw}:/vc/${A}: ${r.output}`).not.toBe(0);
      expect((await guestRun(s, B, 'vm1', 'grep -c " /mnt/x " /proc/mounts')).output.trim()).toBe('0');
    }
  });
});

describe('shared storage drift', () => {
  test('vc status flags a node whose NFS server is down; starting the running VC again repairs it', async () => {
    await onNode('n3', 'kill "$(cat /run/virtualinux/ganesha.pid)"; i=0; while kill -0 "$(cat /run/virtualinux/ganesha.pid)" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done');
    expect((await s.vcStatus(A)).drift).toContain('n3: the shared storage server (NFS-Ganesha) is not running');
    expectOk(await s.startVc(A, 'cyclic', 'free'));
    expect((await s.vcStatus(A)).drift).toEqual([]);
    expect((await guestRun(s, A, 'vm1', 'cat /shared/secret')).output).toContain('only-for-a');
  });
});

describe('anti-spoofing', () => {
  test('a guest that changes its address reaches nobody; back to its own, it does', async () => {
    const a = await s.vcStatus(A);
    const own = a.vms[0];
    const peer = a.vms[1].address;
    const fake = own.address.replace(/\.\d+$/, '.200');
    const prefix = a.subnet.split('/')[1];
    const gw = a.subnet.replace(/\.0\/\d+$/, '.1');
    const swap = (ip: string) =>
      `ip addr flush dev eth0 && ip addr add ${ip}/${prefix} dev eth0 && ip route add default via ${gw} dev eth0 onlink`;
    const spoofed = await guestRun(s, A, 'vm1', `${swap(fake)} && ${ping3(peer)}`, 60_000);
    expect(spoofed.output).toMatch(NO_REPLY);
    expect(spoofed.code).not.toBe(0);
    expect((await guestRun(s, A, 'vm1', swap(own.address))).code).toBe(0);
    await reaches(A, 'vm1', peer);
  });
});
