import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { NODE_IMAGE, ROOT_MARK, buildDebianNode } from '../../main/images/debianNode.js';
import { labStatus } from '../../main/lab/index.js';
import { sshBanner } from '../../main/lab/node.js';
import { labFiles } from '../integration/support/lab.js';
import {
  CONTAINER, NODES, installYaml, installedNodes, labShared, removeInstallFiles, restoreLab, snapshotLab, type InstalledNode, type LabSnapshot,
} from './support.js';

/**
 * The one test of disk-less nodes, end to end on the lab (the full Debian guest under TCG:
 * minutes): `vlx install` installs 3 nodes from a YAML config, as an admin would (the
 * original copied from the node image, an overlay per node, each node's configuration as a
 * second initrd, its iPXE entry, the DHCP map). One machine at a time boots: it gets its
 * address from the replicated DHCP, iPXE loads kernel, initrd and its configuration over
 * TFTP, the initrd mounts its overlay over NBD from whichever namespace node holds the
 * storage address and copies the configuration in, Debian boots with sshd and the install's
 * host key, and the app runs commands on it. Booted twice: every node up, then, after
 * `vlx restore --reset-node`, with one node crashed. Then the node serving its root is
 * crashed: another takes the address over and the disk-less node goes on working.
 */
vi.setConfig({ testTimeout: 900_000, hookTimeout: 1_200_000 });
const VLX = join(process.cwd(), 'bin/vlx');
interface Run { code: number; stdout: string; stderr: string }
function vlx(args: string[], timeoutMs = 120_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(VLX, args, { timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}
async function vlxJson<T>(args: string[]): Promise<T> {
  const r = await vlx([...args, '--json']);
  if (r.code !== 0) throw new Error(`vlx ${args.join(' ')}: exit ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

const nodes = installedNodes();
/** The one machine that boots (TCG on 2 cores: one at a time); the other two are installed only. */
const node: InstalledNode = nodes[0]!;
let snapshot: LabSnapshot | undefined;
let work: string;
let labKey: string;
const crashed = new Set<string>();

/** The storage VIP's holder, as the app reports it. */
async function storageHolders(): Promise<string[]> {
  return (await vlxJson<{ storageHolders?: string[] }>(['services', 'status'])).storageHolders ?? [];
}

async function crash(n: string): Promise<void> {
  const r = await vlx(['lab', 'crash', n]);
  expect(r.code, r.stderr).toBe(0);
  crashed.add(n);
}

/** A database member's revive waits for its PostgreSQL and a primary: give it time, and a second try. */
async function tryRevive(n: string): Promise<Run> {
  let r = await vlx(['lab', 'revive', n], 300_000);
  if (r.code !== 0) r = await vlx(['lab', 'revive', n], 300_000);
  if (r.code === 0) crashed.delete(n);
  return r;
}

async function revive(n: string): Promise<void> {
  const r = await tryRevive(n);
  expect(r.code, r.stderr).toBe(0);
}

/** ipxe: iPXE starts configuring its interface (after the BIOS and its two Ctrl-B prompts), a part of dhcp. */
interface BootTimes { ipxe: number; dhcp: number; tftp: number; kernel: number; root: number; sshd: number }

/**
 * Power on and watch the serial console: each stage's end is the first time its mark shows.
 * iPXE: "net0: <address>" after DHCP; the config archive's "ok" closes TFTP; the initrd's first mark
 * ends the kernel; its root mark ends the root; the sshd banner on the node's address ends all.
 */
async function bootAndTime(): Promise<BootTimes> {
  const t0 = Date.now();
  const on = await vlxJson<{ serialLog: string; running: boolean }>(['lab', 'power-on', node.name]);
  expect(on.running).toBe(true);
  const seen: Partial<Record<keyof BootTimes, number>> = {};
  const marks: [keyof BootTimes, RegExp][] = [
    ['ipxe', /Configuring \(net0 /],
    ['dhcp', /net0: \d+\.\d+\.\d+\.\d+\//],
    // iPXE prints progress (percentages, backspaces) between the name and the final "ok";
    // the node's configuration archive (the second initrd) is the last file it loads.
    ['tftp', new RegExp(`node${node.ordinal}\\.cpio\\.\\.\\.[^\\n]*ok`)],
    ['kernel', new RegExp(`${ROOT_MARK} interface`)],
    ['root', new RegExp(`${ROOT_MARK} root ${node.exportName}`)],
  ];
  const deadline = t0 + 600_000;
  while (Date.now() < deadline) {
    const log = existsSync(on.serialLog) ? readFileSync(on.serialLog, 'latin1') : '';
    for (const [k, re] of marks) if (seen[k] === undefined && re.test(log)) seen[k] = Date.now() - t0;
    if (log.includes(`${ROOT_MARK} no root`) || /Kernel panic/.test(log)) throw new Error(`boot failed:\n${log.slice(-3000)}`);
    if (seen.root !== undefined && (await sshBanner(node.address, 1000))) {
      seen.sshd = Date.now() - t0;
      break;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  const log = existsSync(on.serialLog) ? readFileSync(on.serialLog, 'latin1') : '';
  if (seen.sshd === undefined) throw new Error(`no sshd on ${node.address} within 600 s; console:\n${log.slice(-3000)}`);
  const t = seen as BootTimes;
  for (const k of ['ipxe', 'dhcp', 'tftp', 'kernel', 'root'] as const) expect(t[k], `${k} mark on the console`).toBeGreaterThan(0);
  return t;
}

function describeTimes(label: string, t: BootTimes): string {
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  return `${label}: power-on → sshd ${s(t.sshd)} = DHCP ${s(t.dhcp)} (firmware to iPXE ${s(t.ipxe)}, iPXE configuring ${s(t.dhcp - t.ipxe)}) + TFTP ${s(t.tftp - t.dhcp)} + kernel ${s(t.kernel - t.tftp)} + root ${s(t.root - t.kernel)} + Debian to sshd ${s(t.sshd - t.root)}`;
}

async function execOn(command: string): Promise<Run> {
  // exec quotes each word it is given: the script goes to sh as one word.
  return vlx(['exec', '--nodes', node.name, '--timeout', '120', '--', 'sh', '-c', command], 180_000);
}

/** What the booted node says about itself, over `vlx exec` (the app trusts the host key the install made). */
async function identity(): Promise<{ out: string; field: (k: string) => string }> {
  const r = await execOn('echo "hostname=$(hostname)"; echo "root=$(findmnt -n -o SOURCE /)"; echo "mark=$(cat /root/mark 2>/dev/null)";'
    + ' echo "key=$(cut -d" " -f2 /etc/ssh/ssh_host_ed25519_key.pub)"; echo "auth=$(cat /root/.ssh/authorized_keys | cut -d" " -f2)";'
    + ` echo "hosts=$(grep -c '^10\\.77\\.0\\.' /etc/hosts)"; echo "dl2=$(awk '$2 == "${nodes[1]!.name}" {print $1}' /etc/hosts)";`
    + ' echo "resolv=$(grep -c ^nameserver /etc/resolv.conf)"');
  expect(r.code, r.stderr + r.stdout).toBe(0);
  // Each line comes back as "<node>: <line>".
  const field = (k: string) => new RegExp(`^${node.name}\\s*: ${k}=(.*)$`, 'm').exec(r.stdout)?.[1]?.trim() ?? '';
  return { out: r.stdout, field };
}

/** The public host key the install made for node 1, as it keeps it on shared storage. */
function installHostKey(): string {
  return readFileSync(join(labShared(), 'cluster', CONTAINER, 'keys', `node${node.ordinal}`, 'ssh_host_ed25519_key.pub'), 'utf8').split(' ')[1]!;
}

async function expectInstalledIdentity(): Promise<Awaited<ReturnType<typeof identity>>> {
  const id = await identity();
  expect(id.field('hostname')).toBe(node.name);
  expect(id.field('root')).toBe('/dev/nbd0');
  expect(id.field('key')).toBe(installHostKey());
  expect(id.field('auth')).toBe(labKey.split(' ')[1]);
  expect(id.field('hosts')).toBe(String(NODES));
  expect(id.field('dl2')).toBe(nodes[1]!.address);
  expect(Number(id.field('resolv'))).toBeGreaterThan(0);
  return id;
}

async function powerOffAll(): Promise<void> {
  for (const n of nodes) await vlx(['lab', 'power-off', n.name]);
}

beforeAll(async () => {
  const status = await labStatus();
  if (status.state === 'down') throw new Error('the lab is down (the global setup brings it up)');
  for (const n of status.nodes) if (!n.sshd) await revive(n.name);
  await powerOffAll();
  work = mkdtempSync(join(tmpdir(), 'vlx-diskless-'));
  labKey = readFileSync(`${labFiles().key}.pub`, 'utf8').trim();

  // The node image, built here (its progress in this log) and put on shared storage the way
  // the install expects its base image: `vlx image build` finds the build cached and publishes it.
  snapshot = snapshotLab(NODE_IMAGE);
  const t = Date.now();
  const built = await buildDebianNode({ log: (l) => console.log(`${NODE_IMAGE}: ${l}`) });
  console.log(`${NODE_IMAGE}: ${built.rebuilt ? 'built' : 'cached'} in ${((Date.now() - t) / 1000).toFixed(1)} s`);
  const pub = await vlx(['image', 'build', NODE_IMAGE], 1_200_000);
  expect(pub.code, pub.stderr).toBe(0);

  // From a clean start: whatever an earlier run left (its installation, daemons of an older config) goes first.
  removeInstallFiles();
  await vlx(['services', 'stop'], 120_000);
  const file = join(work, 'cluster.yaml');
  writeFileSync(file, installYaml(NODE_IMAGE, labKey));
  const ti = Date.now();
  const r = await vlx(['install', '--config', file], 600_000);
  expect(r.code, r.stderr + r.stdout).toBe(0);
  console.log(`vlx install of ${NODES} disk-less nodes (original copied from ${NODE_IMAGE}, services deployed): ${((Date.now() - ti) / 1000).toFixed(1)} s`);
  // The storage address is elected in a few adverts.
  for (let i = 0; i < 50 && (await storageHolders()).length !== 1; i++) await new Promise((res) => setTimeout(res, 200));
  expect(await storageHolders()).toHaveLength(1);
});

afterAll(async () => {
  // Every step is tried whatever failed before it: later suites (e2e) need the lab as it was.
  const problems: string[] = [];
  await powerOffAll();
  for (const n of [...crashed]) {
    const r = await tryRevive(n);
    if (r.code !== 0) problems.push(`vlx lab revive ${n}: exit ${r.code}: ${r.stderr.trim()}`);
  }
  // The manifest without the installation, this home's cluster config and known hosts as they were;
  // the services follow that manifest again (no disk-less entry).
  if (snapshot) restoreLab(snapshot, NODE_IMAGE);
  await vlx(['services', 'stop'], 120_000);
  const d = await vlx(['services', 'deploy'], 300_000);
  if (d.code !== 0) problems.push(`vlx services deploy: exit ${d.code}: ${d.stderr.trim()}`);
  if (work) rmSync(work, { recursive: true, force: true });
  expect(problems).toEqual([]);
});

describe('a disk-less node installed by vlx install', () => {
  test('boots from the cluster with every node up as the install made it, and the app runs commands on it', async () => {
    const t = await bootAndTime();
    console.log(describeTimes('every node up', t));
    const id = await expectInstalledIdentity();
    expect(id.field('mark')).toBe('');
    const nodesUp = await vlxJson<{ name: string; state: string }[]>(['nodes']);
    expect(nodesUp.find((n) => n.name === node.name)?.state).toBe('up');
    const w = await execOn('echo written-before-reset > /root/mark && sync');
    expect(w.code, w.stderr).toBe(0);
    expect((await identity()).field('mark')).toBe('written-before-reset');
    expect((await vlx(['lab', 'power-off', node.name])).code).toBe(0);
  });

  test('after --reset-node it boots with one node down, its writes gone and its identity kept, and survives the death of the node serving its root', async () => {
    const reset = await vlx(['restore', '--reset-node', String(node.ordinal), '--yes'], 300_000);
    expect(reset.code, reset.stderr + reset.stdout).toBe(0);
    await crash('n1');
    const t = await bootAndTime();
    console.log(describeTimes('n1 down', t));
    // A fresh overlay: the mark is gone; the init-bottom hook applied the configuration again.
    const id = await expectInstalledIdentity();
    expect(id.field('mark')).toBe('');
    const addr = await execOn('ip -4 -o addr show dev eth0');
    expect(addr.stdout).toContain(`${node.address}/24`);
    const nodesUp = await vlxJson<{ name: string; state: string }[]>(['nodes']);
    expect(nodesUp.find((n) => n.name === node.name)?.state).toBe('up');

    const [server] = await storageHolders();
    expect(server).toBeDefined();
    expect(server).not.toBe('n1');
    const before = await execOn('echo before > /root/before && sync && cat /root/before');
    expect(before.stdout).toContain('before');
    const tc = Date.now();
    await crash(server!);
    // A write that must reach the new server: the root is still there, and writable.
    const after = await execOn('dd if=/dev/urandom of=/root/after bs=64k count=16 2>/dev/null && sync && sha256sum /root/after | cut -c1-16 && cat /root/before');
    const stall = Date.now() - tc;
    expect(after.code, after.stderr).toBe(0);
    expect(after.stdout).toContain('before');
    const holders = await storageHolders();
    expect(holders).toHaveLength(1);
    expect(holders[0]).not.toBe(server);
    console.log(`root server ${server} crashed: ${holders[0]} took over; a write + sync on ${node.name} returned after ${(stall / 1000).toFixed(1)} s`);
    // No I/O error reached the kernel, and the root is still mounted read-write (ext4 would have remounted it ro).
    const dmesg = await execOn('echo "errors=$(dmesg | grep -ci "i/o error")"; echo "options=$(findmnt -n -o OPTIONS /)"');
    expect(dmesg.stdout).toContain('errors=0');
    expect(dmesg.stdout).toMatch(/options=rw\b/);
  });
});
