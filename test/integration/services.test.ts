import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ensureLab } from './support/lab.js';
import { getCluster } from '../../main/config/clusters.js';
import type { Manifest } from '../../main/domain/manifest.js';
import { openCluster, type SshClusterSession } from '../../main/ssh/session.js';
import { labCrash, labRevive, labStatus } from '../../main/lab/index.js';
import { BRIDGE, VETH_PREFIX } from '../../main/lab/layout.js';
import { createHash, randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { labSsh } from './support/lab.js';
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

/** Poll until `done` holds or the deadline passes (chrony's first polls take a few seconds). */
async function statusWithin(ms: number, done: (s: ServicesStatus) => boolean, only?: string[]): Promise<ServicesStatus> {
  const end = Date.now() + ms;
  let s = await servicesStatus(session, only);
  while (!done(s) && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 500));
    s = await servicesStatus(session, only);
  }
  return s;
}

/**
 * Every live node's clock follows a live node of the cluster, or is the one orphan root (no
 * upstream in the lab): exactly one root, and every other node synchronised to a live peer
 * (a dead node's address as the source means chrony has not let go of it yet).
 */
function clocksAgree(s: ServicesStatus, live: string[]): string | undefined {
  const rows = s.nodes.filter((n) => live.includes(n.node));
  const addrs = manifest.nodes.filter((n) => live.includes(n.name)).map((n) => n.address);
  const bad = rows.filter((n) => !n.ntp?.synced || (!n.ntp.local && !addrs.includes(n.ntp.source ?? '')));
  if (bad.length > 0) return `not synchronised to a live node: ${bad.map((n) => `${n.node} ${JSON.stringify(n.ntp)}`).join('; ')}`;
  const roots = rows.filter((n) => n.ntp?.local).map((n) => n.node);
  if (roots.length !== 1) return `orphan roots: ${roots.join(', ') || 'none'}`;
  return undefined;
}

const addrOf = (node: string) => manifest.nodes.find((n) => n.name === node)!.address;

/** One TCP connect to ADDRESS:2049 within `ms`: NFS-Ganesha listens on every address of every node (sshd only on the node's own), so whoever holds the VIP answers. */
function answers(address: string, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host: address, port: 2049 });
    const done = (ok: boolean) => { clearTimeout(t); sock.destroy(); resolve(ok); };
    const t = setTimeout(() => done(false), ms);
    sock.once('connect', () => done(true));
    // Refused or unreachable at once: wait out the slot so polls stay 100 ms apart.
    sock.once('error', () => { clearTimeout(t); setTimeout(() => { sock.destroy(); resolve(false); }, ms); });
  });
}

async function tftpSha(address: string, file: string): Promise<string> {
  const r = await runLocal('sh', ['-c', `curl -sS --max-time 5 tftp://${address}/${file} | sha256sum`]);
  return r.stdout.split(' ')[0];
}

/** busybox nslookup through one node's dnsmasq, from this workstation (on the lab bridge). */
async function resolve(name: string, server: string): Promise<string[]> {
  const r = await runLocal('busybox', ['nslookup', name, server]);
  // The answer section comes after the "Name:" line; the server's own address is printed before it.
  const after = r.stdout.split(/^Name:/m)[1] ?? '';
  return [...after.matchAll(/Address(?: \d+)?:\s*([0-9.]+)/g)].map((m) => m[1]);
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

  test('NTP: every node follows a node of the cluster, one of them its own clock (orphan mode, no upstream in the lab)', async () => {
    const live = manifest.nodes.map((n) => n.name);
    const s = await statusWithin(40_000, (x) => clocksAgree(x, live) === undefined);
    expect(clocksAgree(s, live)).toBeUndefined();
    for (const n of s.nodes) console.log(`[services] ${n.node} clock: ${n.ntp?.local ? 'orphan root' : `follows ${n.ntp?.source}`} stratum ${n.ntp?.stratum}`);
  }, 60_000);

  test('TFTP: every node serves the same bytes of one boot file', async () => {
    const body = randomBytes(30_000).toString('base64');
    const want = createHash('sha256').update(body).digest('hex');
    const w = await labSsh(addrOf('n1'), `mkdir -p /srv/virtualinux/tftp && printf '%s' '${body}' > /srv/virtualinux/tftp/vlxtest.bin`);
    expect(w.code, w.stderr).toBe(0);
    for (const n of manifest.nodes) expect(await tftpSha(n.address, 'vlxtest.bin'), `TFTP from ${n.name}`).toBe(want);
  }, 60_000);

  test('DNS: every node resolves every node name and the gateway', async () => {
    for (const server of manifest.nodes) {
      for (const n of manifest.nodes) expect(await resolve(n.name, server.address), `${n.name} via ${server.name}`).toEqual([n.address]);
      expect(await resolve('gateway', server.address)).toEqual(['10.77.0.253']);
    }
  }, 60_000);

  test('dnsmasq killed on the node that answered first: the known MAC still gets its address, TFTP still works', async () => {
    const first = await dhcpLease();
    const dead = manifest.nodes.find((n) => n.address === first.serverid)!;
    const before = await servicesStatus(session, [dead.name]);
    const pid = before.nodes[0].services.find((x) => x.service === 'dnsmasq')?.pid;
    expect(pid).toBeGreaterThan(0);
    const k = await labSsh(dead.address, `kill -KILL ${pid}`);
    expect(k.code, k.stderr).toBe(0);
    const t0 = performance.now();
    const lease = await dhcpLease();
    const ms = performance.now() - t0;
    console.log(`[services] DHCP answer after ${dead.name}'s dnsmasq was killed: ${ms.toFixed(0)} ms (from ${lease.serverid}; one udhcpc run, 1 s retry)`);
    expect(lease.ip).toBe(CLIENT_IP);
    expect(lease.serverid).not.toBe(dead.address);
    const want = createHash('sha256').update((await labSsh(addrOf('n1'), 'cat /srv/virtualinux/tftp/vlxtest.bin')).stdout).digest('hex');
    for (const n of manifest.nodes.filter((x) => x.name !== dead.name)) expect(await tftpSha(n.address, 'vlxtest.bin'), `TFTP from ${n.name}`).toBe(want);
    // The redeploy brings it back, and only it.
    const r = await deployServices(session, manifest);
    expect(r.nodes.find((n) => n.node === dead.name)?.services.find((x) => x.service === 'dnsmasq')?.action).toBe('started');
  }, 90_000);

  test(`the gateway primary's link is cut: the VIP answers from a backup within 2 s; back up, one holder, no duplicate`, async () => {
    const vip = '10.77.0.253';
    const veth = `${VETH_PREFIX}${VICTIM.slice(1)}`;
    expect((await servicesStatus(session)).holders).toEqual([VICTIM]);
    await must('ip', ['link', 'set', veth, 'down']);
    const t0 = performance.now();
    let answered = -1;
    try {
      // A connect every 100 ms from this workstation; the first that succeeds reached a backup.
      for (let i = 0; i < 50 && answered < 0; i++) {
        if (await answers(vip, 100)) answered = performance.now() - t0;
      }
      console.log(`[services] VIP answered again ${answered.toFixed(0)} ms after ${VICTIM}'s link was cut (keepalived still running there)`);
      expect(answered).toBeGreaterThanOrEqual(0);
      expect(answered).toBeLessThan(2000);
      const others = manifest.nodes.map((n) => n.name).filter((n) => n !== VICTIM);
      const moved = await statusWithin(5000, (x) => x.holders.length === 1, others);
      expect(moved.holders).toHaveLength(1);
    } finally {
      await must('ip', ['link', 'set', veth, 'up']);
    }
    // Back: both think they are master for a moment; the higher priority wins and the other lets go.
    const back = await statusWithin(10_000, (x) => x.holders.length === 1 && x.holders[0] === VICTIM);
    expect(back.holders).toEqual([VICTIM]);
    await runLocal('ip', ['neigh', 'flush', 'dev', BRIDGE, 'to', vip]);
    const arp = await runLocal('busybox', ['arping', '-c', '3', '-w', '3', '-I', BRIDGE, vip]);
    const macs = new Set([...arp.stdout.matchAll(/reply from [0-9.]+ \[([0-9a-f:]+)\]/gi)].map((m) => m[1].toLowerCase()));
    console.log(`[services] after the link came back: ${[...macs].join(', ')} answer for ${vip}`);
    expect(macs.size, arp.stdout).toBe(1);
  }, 90_000);

  test(`${VICTIM} dies: DHCP is still answered, the VIP moves to exactly one live node, every live clock follows a live peer`, async () => {
    const others = manifest.nodes.map((n) => n.name).filter((n) => n !== VICTIM);
    // Each live node watches for the VIP itself and stamps the moment it has it: the lab's
    // nodes share this machine's clock, so that is comparable with the moment of the crash.
    const vip = manifest.gateway?.vip ?? '10.77.0.253';
    const watch = `i=0; while [ $i -lt 200 ]; do if ip -o -4 addr show | grep -qF ' ${vip}/'; then date +%s%N; exit 0; fi; sleep 0.01; i=$((i+1)); done; exit 1`;
    // Who follows whom before the crash: a node that followed n4 must choose another peer.
    const clocksBefore = await servicesStatus(session);
    const followedVictim = clocksBefore.nodes.filter((n) => n.ntp?.source === addrOf(VICTIM)).map((n) => n.node);
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

    // The clocks: every live node synchronised to a live peer (chronyc tracking), the orphan
    // root among them; a node that followed n4 has chosen another (n4 is never the root here:
    // the lowest reference id, n1's, is). Timed from the crash: chrony drops a silent source
    // after missed polls (maxpoll 16 s).
    const clocks = await statusWithin(60_000, (x) => clocksAgree(x, others) === undefined, others);
    console.log(`[services] clocks after ${VICTIM}'s crash (${followedVictim.join(', ') || 'none'} followed it): ${clocks.nodes.map((n) => `${n.node} ${n.ntp?.local ? 'root' : `-> ${n.ntp?.source}`}`).join(', ')}, ${((performance.now() - crashed) / 1000).toFixed(1)} s after the crash`);
    expect(clocksAgree(clocks, others)).toBeUndefined();
  }, 150_000);

  test(`${VICTIM} revived and redeployed takes the VIP back; stop leaves nothing behind`, async () => {
    await labRevive(VICTIM);
    // Powered on as after a reboot: the VIP it held when it died is not on it, one holder remains.
    const revived = await servicesStatus(session);
    expect(revived.holders).toHaveLength(1);
    expect(revived.holders[0]).not.toBe(VICTIM);
    expect(revived.nodes.find((n) => n.node === VICTIM)?.nat).toBe(false);
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
