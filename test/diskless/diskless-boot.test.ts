import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { NODE_IMAGE, ROOT_MARK, buildDebianNode } from '../../main/images/debianNode.js';
import { nodeBootLine, nodeExportName, parseBootLine } from '../../main/domain/bootLine.js';
import { machineMac } from '../../main/lab/machines.js';
import { labStatus } from '../../main/lab/index.js';
import type { BuiltImage } from '../../main/images/tiny.js';
import { sshBanner } from '../../main/lab/node.js';
import { labFiles } from '../integration/support/lab.js';
import { CONTAINER, addToCluster, prepareStorage, trustHostKey, writeBootEntries, writeIdentity, type DisklessNode } from './support.js';

/**
 * The one test of a disk-less node, end to end on the lab (the full Debian guest under TCG:
 * minutes): a QEMU machine with no disk gets its address from the replicated DHCP, iPXE
 * loads kernel and initrd over TFTP, the initrd mounts the node's own overlay over NBD from
 * whichever namespace node holds the storage address, Debian boots with sshd and the
 * cluster's key, and the app runs commands on it. Booted twice: every node up, then with
 * one node crashed. Then the node serving its root is crashed: another takes the address
 * over and the disk-less node goes on working.
 */
vi.setConfig({ testTimeout: 900_000, hookTimeout: 1_200_000 });
const VLX = join(process.cwd(), 'bin/vlx');
/** The storage address `vlx services deploy` gives the lab (services.storage.vip's default). */
const STORAGE_IP = '10.77.0.252';

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

let built: BuiltImage;
let node: DisklessNode;
let restoreCluster: (() => void) | undefined;
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

async function revive(n: string): Promise<void> {
  const r = await vlx(['lab', 'revive', n]);
  expect(r.code, r.stderr).toBe(0);
  crashed.delete(n);
}

interface BootTimes { dhcp: number; tftp: number; kernel: number; root: number; sshd: number }

/**
 * Power on and watch the serial console: each stage's end is the first time its mark shows.
 * iPXE: "net0: <address>" after DHCP; the initrd's "ok" closes TFTP; the initrd's first mark
 * ends the kernel; its root mark ends the root; the sshd banner on the node's address ends all.
 */
async function bootAndTime(): Promise<BootTimes> {
  const t0 = Date.now();
  const on = await vlxJson<{ serialLog: string; running: boolean }>(['lab', 'power-on', node.name]);
  expect(on.running).toBe(true);
  const seen: Partial<Record<keyof BootTimes, number>> = {};
  const marks: [keyof BootTimes, RegExp][] = [
    ['dhcp', /net0: \d+\.\d+\.\d+\.\d+\//],
    // iPXE prints progress (percentages, backspaces) between the name and the final "ok".
    ['tftp', new RegExp(`${NODE_IMAGE}\\.initrd\\.\\.\\.[^\\n]*ok`)],
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
  for (const k of ['dhcp', 'tftp', 'kernel', 'root'] as const) expect(t[k], `${k} mark on the console`).toBeGreaterThan(0);
  return t;
}

function describeTimes(label: string, t: BootTimes): string {
  const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  return `${label}: power-on → sshd ${s(t.sshd)} = DHCP ${s(t.dhcp)} + TFTP ${s(t.tftp - t.dhcp)} + kernel ${s(t.kernel - t.tftp)} + root ${s(t.root - t.kernel)} + Debian to sshd ${s(t.sshd - t.root)}`;
}

async function execOn(command: string): Promise<Run> {
  // exec quotes each word it is given: the script goes to sh as one word.
  return vlx(['exec', '--nodes', node.name, '--timeout', '120', '--', 'sh', '-c', command], 180_000);
}

beforeAll(async () => {
  const status = await labStatus();
  if (status.state === 'down') throw new Error('the lab is down (the global setup brings it up)');
  for (const n of status.nodes) if (!n.sshd) await revive(n.name);
  const index = status.nodes.length + 1;
  node = { name: `n${index}`, index, address: `10.77.0.${index}`, mac: machineMac(`n${index}`), exportName: nodeExportName(CONTAINER, index) };
  await vlx(['lab', 'power-off', node.name]);

  const t = Date.now();
  built = await buildDebianNode({ log: (l) => console.log(`${NODE_IMAGE}: ${l}`) });
  console.log(`${NODE_IMAGE}: ${built.rebuilt ? 'built' : 'cached'} in ${((Date.now() - t) / 1000).toFixed(1)} s`);

  const via = status.nodes[0]!.address;
  await prepareStorage(built, [node], via);
  const hostKey = await writeIdentity(node, via, readFileSync(`${labFiles().key}.pub`, 'utf8'));
  trustHostKey(node, hostKey);
  restoreCluster = addToCluster([node]);
  // The install's printer; no sifip: the initrd asks the replicated DHCP for the mapped address too.
  const bootLine = nodeBootLine({
    container: CONTAINER, node: index, storageIp: STORAGE_IP, iface: 'eth0', modules: ['e1000'], kernelArgs: ['console=ttyS0', 'net.ifnames=0', 'rw', 'quiet'],
  });
  expect(parseBootLine(bootLine).params.ivid).toBe(node.exportName);
  writeBootEntries(built, [{ node, bootLine }]);
  // From a clean start: whatever an earlier run left (daemons of an older config) goes first.
  await vlx(['services', 'stop'], 120_000);
  const d = await vlx(['services', 'deploy'], 300_000);
  expect(d.code, d.stderr + d.stdout).toBe(0);
  // The storage address is elected in a few adverts.
  for (let i = 0; i < 50 && (await storageHolders()).length !== 1; i++) await new Promise((r) => setTimeout(r, 200));
  expect(await storageHolders()).toHaveLength(1);
});

afterAll(async () => {
  if (node) await vlx(['lab', 'power-off', node.name]);
  restoreCluster?.();
  for (const n of [...crashed]) await revive(n);
  // The services follow the manifest again (no disk-less entry).
  await vlx(['services', 'stop'], 120_000);
  await vlx(['services', 'deploy'], 300_000);
});

describe('a disk-less node', () => {
  test('boots from the cluster with every node up, and the app runs commands on it', async () => {
    const t = await bootAndTime();
    console.log(describeTimes('every node up', t));
    const r = await execOn('hostname; findmnt -n -o SOURCE /; cat /proc/cmdline');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(node.name);
    expect(r.stdout).toContain('/dev/nbd0');
    const nodes = await vlxJson<{ name: string; state: string }[]>(['nodes']);
    expect(nodes.find((n) => n.name === node.name)?.state).toBe('up');
    expect((await vlx(['lab', 'power-off', node.name])).code).toBe(0);
  });

  test('boots with one node down, and survives the death of the node serving its root', async () => {
    await crash('n1');
    const t = await bootAndTime();
    console.log(describeTimes('n1 down', t));
    const r = await execOn('hostname; ip -4 -o addr show dev eth0');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(node.name);
    expect(r.stdout).toContain(`${node.address}/24`);
    const nodes = await vlxJson<{ name: string; state: string }[]>(['nodes']);
    expect(nodes.find((n) => n.name === node.name)?.state).toBe('up');

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
