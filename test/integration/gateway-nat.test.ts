import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { cleanUpTestVcs, ensureVcLab, expectOk, guestRun, onNode, testVc, vcService } from './vc-support.js';
import type { VcService } from '../../main/service/vcCore.js';
import { getCluster } from '../../main/config/clusters.js';
import { openCluster, type SshClusterSession } from '../../main/ssh/session.js';
import { deployServices, readManifest, servicesStatus, stopServices } from '../../main/node-services/deploy.js';
import type { Manifest } from '../../main/domain/manifest.js';
import { labCrash, labRevive, labStatus } from '../../main/lab/index.js';
import { OUTSIDE_ADDRESS, OUTSIDE_NETNS, OUTSIDE_PORT, PUBLIC_ADDRESS } from '../../main/lab/outside.js';
import { runLocal } from '../../main/lab/local.js';
import { SerialConsole } from '../../main/vm/serial.js';
import { vmRuntimePaths } from '../../main/domain/addressing.js';

/**
 * The gateway as a VM sees it: the outside (the lab's vlx-out namespace, a public test
 * network) answers through the VIP holder's NAT and sees the public address, never the VM's;
 * the holder crashes and the next one takes the public address, its NAT and its route; the
 * old holder comes back and exactly one node holds the public address. n4 is the node this
 * file may crash (the lab's database is elsewhere): it gets the top gateway priority here.
 */
let s: VcService;
let session: SshClusterSession;
let manifest: Manifest;
const VC = testVc('natout');
/** A VC whose subnet the admin chose outside the VC pool: the NAT must not depend on the pool. */
const FAR_VC = testVc('natfar');
const FAR_SUBNET = '172.31.77.0/24';
const VICTIM = 'n4';
const VIP = '10.77.0.253';
vi.setConfig({ testTimeout: 120_000, hookTimeout: 600_000 });

/**
 * What the outside's listener saw as the source of a connection from the VM; '' if none
 * answered. Straight to the VM's serial console on the node it was on: the VC status (which
 * guestRun asks first) waits for a dead node's deadline, which would be counted as failover.
 */
async function outsideSeesFromVm(waitS = 2, node?: string, vc = VC): Promise<string> {
  const cmd = `echo | nc -w ${waitS} ${OUTSIDE_ADDRESS} ${OUTSIDE_PORT}`;
  if (!node) {
    const r = await guestRun(s, vc, 'vm1', cmd, 15_000);
    if (r.code !== 0) console.log(`${vc}/vm1: ${cmd}: exit ${r.code}: ${r.output.trim()}`);
    return r.code === 0 ? r.output.trim() : '';
  }
  const conn = await s.env.session.node(node);
  const serial = new SerialConsole(await conn.openUnixSocket(vmRuntimePaths(VC, 'vm1').serial), `${VC}/vm1`);
  try {
    serial.write('\n');
    const r = await serial.run(cmd, 15_000);
    return r.code === 0 ? r.output.trim() : '';
  } finally {
    serial.close();
  }
}

async function vmNode(): Promise<{ node: string; address: string }> {
  const vm = (await s.vcStatus(VC)).vms.find((v) => v.name === 'vm1')!;
  return { node: vm.node!, address: vm.address };
}

/** The default route of a node, as `ip route` prints it. */
async function defaultRoute(node: string): Promise<string> {
  return (await onNode(node, 'ip -4 route show default')).stdout.trim();
}

/**
 * Poll the live nodes until exactly one holds the VIP and the public address, both the same
 * node. Bounded by a clock, not a number of rounds: after keepalived (re)starts, a backup
 * waits out three adverts before it takes over, a preempting node then takes the VIP, the old
 * holder's notify script drops the public address, and on a loaded 2-core machine each status
 * round over SSH takes a second or more.
 */
async function oneHolder(nodes: string[], withinMs = 30_000): Promise<string> {
  const t0 = Date.now();
  let last = '';
  for (;;) {
    const st = await servicesStatus(session, nodes);
    last = `VIP: ${st.holders.join(',') || 'none'}; public: ${st.publicHolders.join(',') || 'none'}`;
    if (st.holders.length === 1 && st.publicHolders.length === 1 && st.holders[0] === st.publicHolders[0]) {
      console.log(`one holder (${st.holders[0]}) among ${nodes.join(',')} after ${Date.now() - t0} ms`);
      return st.holders[0];
    }
    if (Date.now() - t0 > withinMs) throw new Error(`no single holder among ${nodes.join(',')} within ${withinMs / 1000} s: ${last}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A TCP connection from the outside namespace to the public address: true if it was accepted. */
async function openFromOutside(port: number): Promise<boolean> {
  const r = await runLocal('ip', ['netns', 'exec', OUTSIDE_NETNS, 'timeout', '3', 'bash', '-c', `exec 3<>/dev/tcp/${PUBLIC_ADDRESS}/${port}`]);
  return r.code === 0;
}

beforeAll(async () => {
  await ensureVcLab();
  const victim = (await labStatus()).nodes.find((n) => n.name === VICTIM);
  if (!victim?.sshd || victim.link !== 'up') await labRevive(VICTIM);
  session = openCluster(getCluster('lab'));
  const base = await readManifest(session);
  expect(base.gateway?.public, 'the lab manifest carries the public side').toMatchObject({ ip: PUBLIC_ADDRESS, router: OUTSIDE_ADDRESS });
  manifest = { ...base, gateway: { ...base.gateway, order: [VICTIM] } };
  await deployServices(session, manifest);
  s = vcService();
  expectOk(await s.createVc({ name: VC, nodes: 1, vcpus: 1, memMb: 128, diskGb: 1, swapMb: 0, image: 'tiny', subnet: 'auto' }));
  expectOk(await s.startVc(VC, 'cyclic', 'free'));
  expectOk(await s.createVc({ name: FAR_VC, nodes: 1, vcpus: 1, memMb: 128, diskGb: 1, swapMb: 0, image: 'tiny', subnet: FAR_SUBNET }));
  expectOk(await s.startVc(FAR_VC, 'cyclic', 'free'));
  // The VM must outlive the crash of the holder.
  if ((await vmNode()).node === VICTIM) {
    const [moved] = await s.moveVms([{ vc: VC, vm: 'vm1', to: 'n2' }]);
    expect(moved.ok, JSON.stringify(moved)).toBe(true);
  }
});

afterAll(async () => {
  try {
    const victim = (await labStatus()).nodes.find((n) => n.name === VICTIM);
    if (!victim?.sshd || victim.link !== 'up') await labRevive(VICTIM);
    await cleanUpTestVcs(s);
  } finally {
    await s?.close();
    if (session) {
      await stopServices(session);
      await session.close();
    }
  }
});

describe('a VM reaches the outside through the gateway VIP\'s NAT', () => {
  test('the outside answers and sees the public address; the holder routes via the router, the others via the VIP', async () => {
    const vm = await vmNode();
    expect(await oneHolder(['n1', 'n2', 'n3', 'n4'])).toBe(VICTIM);
    const seen = await outsideSeesFromVm();
    expect(seen, `from ${VC}/vm1 (${vm.address} on ${vm.node})`).toBe(PUBLIC_ADDRESS);
    expect(seen).not.toBe(vm.address);
    expect(await defaultRoute(VICTIM)).toMatch(new RegExp(`^default via ${OUTSIDE_ADDRESS.replace(/\./g, '\\.')} dev eth0`));
    for (const n of ['n1', 'n2', 'n3']) expect(await defaultRoute(n), n).toMatch(new RegExp(`^default via ${VIP.replace(/\./g, '\\.')} dev eth0`));
    // A subnet outside the pool is NATed the same way.
    const far = (await s.vcStatus(FAR_VC)).vms[0]!;
    expect(far.address.startsWith('172.31.77.'), far.address).toBe(true);
    const t0 = Date.now();
    let farSeen = '';
    while (Date.now() - t0 < 20_000 && (farSeen = await outsideSeesFromVm(2, undefined, FAR_VC)) !== PUBLIC_ADDRESS) await new Promise((r) => setTimeout(r, 500));
    console.log(`${FAR_VC}/vm1 (${far.address} on ${far.node}) reached the outside after ${Date.now() - t0} ms`);
    expect(farSeen, `from ${FAR_VC}/vm1 (${far.address} on ${far.node})`).toBe(PUBLIC_ADDRESS);
  });

  test('from the outside, nothing on the public address answers but the NAT\'s return traffic', async () => {
    const holder = await oneHolder(['n1', 'n2', 'n3', 'n4']);
    // Something does listen on every address of the holder (NFS-Ganesha): closed is the filter's doing.
    const listening = (await onNode(holder, 'ss -ltnH')).stdout;
    expect(listening).toMatch(/(0\.0\.0\.0|\*|\[::\]):2049\b/);
    // sshd, NFS, PostgreSQL, etcd (client, peer), Patroni's API, DNS, rpcbind.
    const ports = [22, 2049, 5432, 2379, 2380, 8008, 53, 111];
    const answered = await Promise.all(ports.map((port) => openFromOutside(port)));
    // Side by side: a dropped SYN waits out the probe's 3 s.
    const open = ports.filter((_p, i) => answered[i]);
    expect(open, `ports of ${PUBLIC_ADDRESS} open from ${OUTSIDE_NETNS}`).toEqual([]);
    // The filter is on the holder, in the gateway's table; the NAT still carries the VM's traffic out and back.
    expect((await onNode(holder, 'nft list chain ip vlx_gateway public_input')).stdout).toContain(`ip daddr ${PUBLIC_ADDRESS} ct state`);
    expect(await outsideSeesFromVm()).toBe(PUBLIC_ADDRESS);
  });

  test('again after the VIP holder is crashed; the old holder comes back and exactly one node holds the public address', async () => {
    const { node } = await vmNode();
    await labCrash(VICTIM);
    const t0 = Date.now();
    let seen = '';
    while (Date.now() - t0 < 60_000 && (seen = await outsideSeesFromVm(1, node)) !== PUBLIC_ADDRESS) await new Promise((r) => setTimeout(r, 100));
    const ms = Date.now() - t0;
    console.log(`gateway failover: the VM reached the outside again ${(ms / 1000).toFixed(2)} s after the holder's crash`);
    expect(seen).toBe(PUBLIC_ADDRESS);
    const next = await oneHolder(['n1', 'n2', 'n3']);
    expect(next).not.toBe(VICTIM);
    expect(await defaultRoute(next)).toMatch(new RegExp(`^default via ${OUTSIDE_ADDRESS.replace(/\./g, '\\.')} dev eth0`));

    // Powered back on, as after a reboot: none of the addresses it held (a revive is a power-on,
    // and addresses are not persistent), so the one holder is still the one that took over.
    await labRevive(VICTIM);
    expect(await oneHolder(['n1', 'n2', 'n3', 'n4'], 5000)).toBe(next);
    const revived = (await onNode(VICTIM, 'ip -o -4 addr show dev eth0; ip -4 route show default; nft list tables')).stdout;
    expect(revived).not.toContain(`${VIP}/`);
    expect(revived).not.toContain(`${PUBLIC_ADDRESS}/`);
    expect(revived).not.toContain('vlx_gateway');
    // Its services started again: it preempts (top priority) or stays BACKUP, never a second holder.
    await deployServices(session, manifest);
    const holder = await oneHolder(['n1', 'n2', 'n3', 'n4']);
    const st = await servicesStatus(session);
    expect(st.publicHolders).toEqual([holder]);
    expect(st.nodes.filter((n) => n.public?.address === PUBLIC_ADDRESS).map((n) => n.node).sort()).toEqual(['n1', 'n2', 'n3', 'n4']);
    expect(await outsideSeesFromVm()).toBe(PUBLIC_ADDRESS);
  });
});
