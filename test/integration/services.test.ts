import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ensureLab } from './support/lab.js';
import { getCluster } from '../../main/config/clusters.js';
import type { Manifest } from '../../main/domain/manifest.js';
import { openCluster, type SshClusterSession } from '../../main/ssh/session.js';
import { labCrash, labRevive, labStatus } from '../../main/lab/index.js';
import { BRIDGE } from '../../main/lab/layout.js';
import { runLocal } from '../../main/lab/local.js';
import {
  deployServices, readManifest, servicesStatus, stopServices, type ServicesStatus,
} from '../../main/node-services/deploy.js';

/**
 * The master-less services on the shared lab: every node answers DHCP from the same fixed
 * map, one node holds the gateway VIP, and losing a node (n4, the only one we may crash)
 * loses neither. n4 gets the top gateway priority here so crashing it moves the VIP.
 * Services are stopped at the end so later suites start clean.
 */
const CLIENT_NETNS = 'vlxtest-dhcp';
const CLIENT_VETH = 'vlxtd0';
// Not any node's MAC: a duplicate would move that node's port in the bridge's table.
const CLIENT_MAC = '52:54:4d:00:00:f0';
const CLIENT_IP = '10.77.0.240';
const VICTIM = 'n4';

let session: SshClusterSession;
let manifest: Manifest;
let work: string;

async function must(cmd: string, args: string[]): Promise<string> {
  const r = await runLocal(cmd, args);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.code}: ${r.stderr}`);
  return r.stdout;
}

async function removeClient(): Promise<void> {
  await runLocal('ip', ['link', 'del', CLIENT_VETH]);
  await runLocal('ip', ['netns', 'del', CLIENT_NETNS]);
}

/** A throwaway host on the lab bridge with a MAC from the map; nothing is configured on it. */
async function addClient(): Promise<void> {
  await removeClient();
  await must('ip', ['netns', 'add', CLIENT_NETNS]);
  await must('ip', ['link', 'add', CLIENT_VETH, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', CLIENT_NETNS, 'address', CLIENT_MAC]);
  await must('ip', ['link', 'set', CLIENT_VETH, 'master', BRIDGE, 'up']);
  await must('ip', ['-n', CLIENT_NETNS, 'link', 'set', 'eth0', 'up']);
}

interface Lease {
  ip: string;
  serverid: string;
  router: string;
  dns: string;
}

/** One DHCP exchange with busybox udhcpc; its script records what it was given and configures nothing. */
async function dhcpLease(): Promise<Lease> {
  const out = join(work, 'lease.txt');
  rmSync(out, { force: true });
  const script = join(work, 'udhcpc.sh');
  writeFileSync(script, `#!/bin/sh\n[ "$1" = bound ] && echo "$ip|$serverid|$router|$dns" > ${out}\nexit 0\n`);
  chmodSync(script, 0o755);
  const r = await runLocal('ip', ['netns', 'exec', CLIENT_NETNS, 'busybox', 'udhcpc', '-i', 'eth0', '-f', '-q', '-n', '-t', '10', '-T', '1', '-s', script]);
  if (r.code !== 0) throw new Error(`udhcpc got no lease (exit ${r.code}): ${r.stderr}`);
  const [ip, serverid, router, dns] = readFileSync(out, 'utf8').trim().split('|');
  return { ip, serverid, router, dns };
}

/** Poll the status until `done` holds; bounded by a number of rounds, not a clock. */
async function statusUntil(done: (s: ServicesStatus) => boolean, rounds = 100, only?: string[]): Promise<ServicesStatus> {
  let s = await servicesStatus(session, only);
  for (let i = 0; i < rounds && !done(s); i++) s = await servicesStatus(session, only);
  return s;
}

const running = (s: ServicesStatus, node: string, svc: string) =>
  s.nodes.find((n) => n.node === node)?.services.find((x) => x.service === svc)?.state === 'running';

beforeAll(async () => {
  await ensureLab();
  work = mkdtempSync('/tmp/vlx-services-');
  session = openCluster(getCluster('lab'));
  const base = await readManifest(session);
  manifest = {
    ...base,
    gateway: { order: [VICTIM] },
    services: { dhcp: { hosts: [{ mac: CLIENT_MAC, ip: CLIENT_IP, name: 'dhcptest' }] } },
  };
  // A node revived by an earlier run keeps nothing of ours running, but may keep a stale VIP.
  const n4 = (await labStatus()).nodes.find((n) => n.name === VICTIM);
  if (!n4?.sshd || n4.link !== 'up') await labRevive(VICTIM);
  await stopServices(session);
  await addClient();
}, 120_000);

afterAll(async () => {
  if (session) {
    const n4 = (await labStatus()).nodes.find((n) => n.name === VICTIM);
    if (!n4?.sshd || n4.link !== 'up') await labRevive(VICTIM);
    await stopServices(session);
    await session.close();
  }
  await removeClient();
  if (work) rmSync(work, { recursive: true, force: true });
}, 120_000);

describe('cluster services on the lab', () => {
  test('deploy: every node runs dnsmasq and keepalived; the preferred node alone holds the VIP', async () => {
    const r = await deployServices(session, manifest);
    expect(r.skipped).toEqual([]);
    expect(r.dhcpHosts.map((h) => h.name)).toEqual([...manifest.nodes.map((n) => n.name), 'dhcptest']);
    for (const n of r.nodes) expect(n.ok, `${n.node}: ${JSON.stringify(n)}`).toBe(true);
    // Settled: the preferred node alone is MASTER with the NAT, every other one BACKUP without.
    const settled = (x: ServicesStatus) => x.holders.length === 1 && x.holders[0] === VICTIM &&
      x.nodes.every((n) => (n.node === VICTIM ? n.vrrp === 'MASTER' && n.nat : n.vrrp === 'BACKUP' && !n.nat));
    const s = await statusUntil(settled);
    for (const n of manifest.nodes) {
      for (const svc of ['dnsmasq', 'keepalived', 'chronyd', 'ganesha']) expect(running(s, n.name, svc), `${svc} on ${n.name}`).toBe(true);
    }
    expect(s.vip).toBe('10.77.0.253');
    expect(s.holders).toEqual([VICTIM]);
    const holder = s.nodes.find((n) => n.node === VICTIM)!;
    expect(holder.vrrp).toBe('MASTER');
    expect(holder.nat).toBe(true);
    expect(s.nodes.filter((n) => n.node !== VICTIM).every((n) => !n.nat && n.vrrp === 'BACKUP')).toBe(true);
  }, 90_000);

  test('a second deploy changes nothing and restarts nothing', async () => {
    const r = await deployServices(session, manifest);
    for (const n of r.nodes) {
      expect(n.written, n.node).toEqual([]);
      expect(n.services.map((x) => `${x.service}:${x.action}`).sort(), n.node).toEqual(['chronyd:kept', 'dnsmasq:kept', 'ganesha:kept', 'keepalived:kept']);
    }
  }, 90_000);

  test('a client with a MAC from the map gets its fixed address, the VIP as router', async () => {
    const lease = await dhcpLease();
    expect(lease.ip).toBe(CLIENT_IP);
    expect(lease.router).toBe('10.77.0.253');
    expect(manifest.nodes.map((n) => n.address)).toContain(lease.serverid);
    expect(lease.dns.split(' ').length).toBeGreaterThan(1);
  }, 60_000);

  test(`${VICTIM} dies: DHCP is still answered and the VIP moves to exactly one live node`, async () => {
    const others = manifest.nodes.map((n) => n.name).filter((n) => n !== VICTIM);
    // Each live node watches for the VIP itself and stamps the moment it has it: the lab's
    // nodes share this machine's clock, so that is comparable with the moment of the crash.
    const vip = manifest.gateway?.vip ?? '10.77.0.253';
    const watch = `i=0; while [ $i -lt 200 ]; do if ip -o -4 addr show | grep -qF ' ${vip}/'; then date +%s%N; exit 0; fi; sleep 0.01; i=$((i+1)); done; exit 1`;
    const watching = session.onNodes(others, watch, { timeoutMs: 30_000 });
    const crashAt = BigInt(Date.now()) * 1_000_000n;
    const started = performance.now();
    await labCrash(VICTIM);
    const crashed = performance.now();
    // Poll only the live nodes: a round that includes the dead one waits out its connect timeout.
    const first = await statusUntil((x) => x.holders.length === 1, 200, others);
    const ms = performance.now() - crashed;
    // The nodes that never get the VIP watch until their bound runs out: read the watch last.
    const seen = (await watching).filter((r) => r.code === 0).map((r) => ({ node: r.node, at: BigInt(r.stdout.trim()) }));
    for (const w of seen) console.log(`[services] ${w.node} held the VIP ${(Number(w.at - crashAt) / 1e6).toFixed(0)} ms after the crash began (node-side watch, 10 ms polls)`);
    console.log(`[services] VIP failover: ${first.holders.join(',')} holds ${first.vip} ${ms.toFixed(0)} ms after ${VICTIM}'s link was cut and its processes killed (labCrash took ${(crashed - started).toFixed(0)} ms; includes SSH status polling)`);
    const s = await servicesStatus(session);
    expect(s.nodes.find((n) => n.node === VICTIM)?.reachable).toBe(false);
    expect(s.holders).toHaveLength(1);
    expect(s.holders[0]).not.toBe(VICTIM);
    const holder = s.nodes.find((n) => n.node === s.holders[0])!;
    expect(holder.vrrp).toBe('MASTER');
    // NAT follows the VIP: the notify script runs right after the address is taken.
    const withNat = await statusUntil((x) => x.nodes.find((n) => n.node === holder.node)?.nat === true, 20);
    expect(withNat.nodes.find((n) => n.node === holder.node)?.nat).toBe(true);

    const lease = await dhcpLease();
    expect(lease.ip).toBe(CLIENT_IP);
    expect(lease.serverid).not.toBe('10.77.0.4');
  }, 90_000);

  test(`${VICTIM} revived and redeployed takes the VIP back; stop leaves nothing behind`, async () => {
    await labRevive(VICTIM);
    const r = await deployServices(session, manifest);
    expect(r.nodes.find((n) => n.node === VICTIM)?.services.map((x) => `${x.service}:${x.action}`)).toEqual(['dnsmasq:started', 'keepalived:started', 'chronyd:started', 'ganesha:started']);
    const back = await statusUntil((x) => x.holders.length === 1 && x.holders[0] === VICTIM);
    expect(back.holders).toEqual([VICTIM]);

    const stopped = await stopServices(session);
    expect(stopped.every((n) => n.reachable && !n.error)).toBe(true);
    const s = await servicesStatus(session);
    expect(s.holders).toEqual([]);
    for (const n of s.nodes) {
      expect(n.services.filter((x) => x.state === 'running'), n.node).toEqual([]);
      expect(n.nat, n.node).toBe(false);
    }
  }, 120_000);
});
