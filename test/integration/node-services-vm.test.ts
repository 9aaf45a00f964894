import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { cleanUpTestVcs, ensureVcLab, expectOk, guestRun, nodeAddr, onNode, testVc, vcService } from './vc-support.js';
import type { VcService } from '../../main/service/vcCore.js';
import { getCluster } from '../../main/config/clusters.js';
import { openCluster, type SshClusterSession } from '../../main/ssh/session.js';
import { deployServices, readManifest, stopServices } from '../../main/node-services/deploy.js';
import { labCrash, labRevive, labStatus } from '../../main/lab/index.js';
import { runLocal } from '../../main/lab/local.js';
import { NBD_PORT } from '../../main/domain/bootLine.js';

/**
 * The node services as a VM of a VC sees them, on one small VC (two tiny guests):
 * names through its gateway's DNS (node names and VM names), what it may reach of the
 * cluster (nothing of the management plane: each closed port has a positive control from
 * a place that may reach it), and the same after a live migration. n4 is the node this
 * file may crash (the lab's database is elsewhere).
 */
let s: VcService;
let session: SshClusterSession;
const VC = testVc('nsvc');
const VICTIM = 'n4';
const LISTENER_PIDS = '/run/virtualinux/vlxtest-listeners';
const BRIDGE_HOST = '10.77.0.254';
const BRIDGE_PORT = 18077;
let bridgeListener: ChildProcess | undefined;
vi.setConfig({ testTimeout: 300_000, hookTimeout: 600_000 });

/** The management ports a VM must never reach: sshd, PostgreSQL, etcd, Patroni, NBD roots. */
const MGMT_PORTS = [22, 5432, 2379, 2380, 8008, NBD_PORT];

/** A listener on every management port of a node (or the given ports of one of its addresses) that has none yet, so a refusal is the firewall's. */
async function listenOn(node: string, addr = nodeAddr(node), ports = MGMT_PORTS): Promise<void> {
  // Listening on this address (or all): a server on 127.0.0.1 alone would fail the control.
  const script = ports.map((p) => `ss -ltnH "sport = :${p}" | grep -qE '(0\\.0\\.0\\.0|\\*|\\[::\\]|${addr.replace(/\./g, '\\.')}):${p} ' || { setsid socat TCP-LISTEN:${p},bind=${addr},reuseaddr,fork SYSTEM:true </dev/null >/dev/null 2>&1 & echo $! >> ${LISTENER_PIDS}; }`).join('\n');
  const r = await onNode(node, script);
  expect(r.code, r.stderr).toBe(0);
}

async function stopListeners(node: string): Promise<void> {
  await onNode(node, `[ -e ${LISTENER_PIDS} ] && { for p in $(cat ${LISTENER_PIDS}); do kill "$p" 2>/dev/null; done; rm -f ${LISTENER_PIDS}; }; true`);
}

const connect = (ip: string, port: number) => `echo | nc -w 2 ${ip} ${port} >/dev/null 2>&1`;

async function vmOf(vm: string): Promise<{ node: string; address: string; gateway: string }> {
  const st = await s.vcStatus(VC);
  const v = st.vms.find((x) => x.name === vm)!;
  return { node: v.node!, address: v.address, gateway: v.address.replace(/\.\d+$/, '.1') };
}

/** From the guest: the port does not connect; from `control` (a place allowed to), it does. */
async function closedFromVm(vm: string, ip: string, port: number, control: (ip: string, port: number) => Promise<number>): Promise<void> {
  expect(await control(ip, port), `control: ${ip}:${port} must be open from an allowed place`).toBe(0);
  const r = await guestRun(s, VC, vm, connect(ip, port), 30_000);
  expect(r.code, `${VC}/${vm} → ${ip}:${port} must be closed`).not.toBe(0);
}

const fromWorkstation = async (ip: string, port: number) => (await runLocal('sh', ['-c', connect(ip, port).replace('nc', 'busybox nc')])).code;
const fromNode = (node: string) => async (ip: string, port: number) => (await onNode(node, connect(ip, port).replace('nc', 'busybox nc'))).code;

async function reachChecks(vm: string): Promise<void> {
  const me = await vmOf(vm);
  const other = ['n1', 'n2', 'n3'].find((n) => n !== me.node)!;
  // Allowed: NFS on its gateway (the share), and its own VC's other VM.
  expect((await guestRun(s, VC, vm, connect(me.gateway, 2049))).code, 'NFS on the gateway').toBe(0);
  const peer = (await s.vcStatus(VC)).vms.find((x) => x.name !== vm)!;
  expect((await guestRun(s, VC, vm, `ping -c 2 -W 2 ${peer.address} >/dev/null`)).code, 'its own VC').toBe(0);
  // Never: any management port of its own node and of another node, its node's sshd through the gateway, the bridge.
  for (const node of [me.node, other]) {
    await listenOn(node);
    for (const port of MGMT_PORTS) await closedFromVm(vm, nodeAddr(node), port, fromWorkstation);
  }
  // A real node's sshd listens on every address, the gateway's too; the lab's only on the node's.
  await listenOn(me.node, me.gateway, [22]);
  await closedFromVm(vm, me.gateway, 22, fromNode(me.node));
  await closedFromVm(vm, BRIDGE_HOST, BRIDGE_PORT, fromNode(other));
}

/** busybox nslookup in the guest through its gateway; the addresses of the answer. */
async function resolveFromVm(vm: string, name: string): Promise<string[]> {
  const { gateway } = await vmOf(vm);
  const r = await guestRun(s, VC, vm, `nslookup ${name} ${gateway}`, 30_000);
  const after = r.output.split(/^Name:/m)[1] ?? '';
  return [...after.matchAll(/Address(?: \d+)?:\s*([0-9.]+)/g)].map((m) => m[1]);
}

beforeAll(async () => {
  await ensureVcLab();
  const n4 = (await labStatus()).nodes.find((n) => n.name === VICTIM);
  if (!n4?.sshd || n4.link !== 'up') await labRevive(VICTIM);
  session = openCluster(getCluster('lab'));
  await deployServices(session, await readManifest(session));
  s = vcService();
  expectOk(await s.createVc({ name: VC, nodes: 2, vcpus: 1, memMb: 128, diskGb: 1, swapMb: 0, image: 'tiny', subnet: 'auto' }));
  expectOk(await s.startVc(VC, 'cyclic', 'free'));
  bridgeListener = spawn('socat', [`TCP-LISTEN:${BRIDGE_PORT},bind=${BRIDGE_HOST},reuseaddr,fork`, 'SYSTEM:true'], { stdio: 'ignore' });
});

afterAll(async () => {
  bridgeListener?.kill();
  try {
    const n4 = (await labStatus()).nodes.find((n) => n.name === VICTIM);
    if (!n4?.sshd || n4.link !== 'up') await labRevive(VICTIM);
    for (const n of ['n1', 'n2', 'n3', 'n4']) await stopListeners(n);
    await cleanUpTestVcs(s);
  } finally {
    await s?.close();
    if (session) {
      await stopServices(session);
      await session.close();
    }
  }
});

describe('a VM and the node services', () => {
  test('DNS through its gateway: a node name and a VM name; again after the node that answered is crashed', async () => {
    // The gateway's DNS is answered by the node the VM runs on: put vm1 on the node we may crash.
    const [moved] = await s.moveVms([{ vc: VC, vm: 'vm1', to: VICTIM }]);
    expect(moved.ok, JSON.stringify(moved)).toBe(true);
    const vm2 = (await s.vcStatus(VC)).vms.find((v) => v.name === 'vm2')!;
    expect(await resolveFromVm('vm1', 'n2')).toEqual(['10.77.0.2']);
    expect(await resolveFromVm('vm1', `vm2.${VC}`)).toEqual([vm2.address]);

    // Away from n4 (a live migration), then n4 dies: the next answer comes from vm1's new node.
    const [away] = await s.moveVms([{ vc: VC, vm: 'vm1', to: 'n3' }]);
    expect(away.ok, JSON.stringify(away)).toBe(true);
    await labCrash(VICTIM);
    expect(await resolveFromVm('vm1', 'n2')).toEqual(['10.77.0.2']);
    expect(await resolveFromVm('vm1', `vm2.${VC}`)).toEqual([vm2.address]);
    await labRevive(VICTIM);
  });

  test('what a VM may reach: its VC and its gateway\'s NFS; never a management port, its node through the gateway, or the bridge', async () => {
    await reachChecks('vm2');
  });

  test('the same after a live migration', async () => {
    const before = await vmOf('vm2');
    const to = ['n1', 'n3'].find((n) => n !== before.node)!;
    const [moved] = await s.moveVms([{ vc: VC, vm: 'vm2', to }]);
    expect(moved.ok, JSON.stringify(moved)).toBe(true);
    expect((await vmOf('vm2')).node).toBe(to);
    await reachChecks('vm2');
  });
});
