import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTiny, tinyGuestParams, type BuiltImage } from '../../main/images/tiny.js';
import { localRunner } from '../../main/images/local.js';
import { probeKvm, type KvmVerdict } from '../../main/vm/kvmProbe.js';
import { qemuArgs, type VmSpec } from '../../main/vm/qemuArgs.js';
import { machineFor, parseTscKhz, TSC_PROBE, type MachineChoice } from '../../main/vm/machine.js';
import { savedMachine } from '../../main/vm/machineFacts.js';
import { QmpClient, cont, finishRestore, quit, saveToFile, status, stop, systemPowerdown } from '../../main/vm/qmp.js';
import { READY_MARKER, SerialConsole } from '../../main/vm/serial.js';
import { sh } from '../../main/util/quote.js';

/**
 * Real QEMU on this machine, no lab: the tiny image boots with the argv builder, answers
 * QMP, is saved to a file and restored with its RAM intact, and answers ping on a tap.
 */
const run = localRunner();
const work = mkdtempSync(join(tmpdir(), 'vlxq-'));
const pidFiles: string[] = [];
const netnses: string[] = [];
let img: BuiltImage;
let verdict: KvmVerdict;
/** What the VC layer picks for the tiny image on this machine (microvm). */
let machine: MachineChoice;

function unixStream(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(path);
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

async function overlay(name: string): Promise<string> {
  const file = join(work, `${name}.qcow2`);
  await run.run(sh('qemu-img', 'create', '-q', '-f', 'qcow2', '-b', img.files.qcow2, '-F', 'qcow2', file));
  return file;
}

function spec(name: string, disk: string, extra: Partial<VmSpec> = {}, params = '', m: MachineChoice = machine): VmSpec {
  return {
    name,
    runDir: work,
    accel: verdict.accel,
    machine: m.machine,
    memMb: 128,
    vcpus: 1,
    boot: { kind: 'kernel', kernel: img.files.kernel, initrd: img.files.initrd, append: [img.meta.cmdline, ...m.append, tinyGuestParams({ name }), params].join(' ').trim() },
    disks: [{ path: disk, format: 'qcow2' }],
    nic: null,
    ...extra,
  };
}

/** Starts QEMU the way a node does (a quoted command line through /bin/sh); returns once it has daemonized. */
async function launch(s: VmSpec, netns?: string) {
  const cmd = qemuArgs(s);
  pidFiles.push(cmd.pidFile);
  const line = sh(...cmd.argv);
  await run.run(netns ? `${sh('ip', 'netns', 'exec', netns)} ${line}` : line, { timeoutMs: 60_000 });
  return cmd;
}

async function qmpAt(path: string): Promise<QmpClient> {
  return (await QmpClient.connect(await unixStream(path), { label: path })).client;
}

beforeAll(async () => {
  img = await buildTiny();
  // The probe itself runs here too: it decides the accel every VM of this file uses.
  verdict = await probeKvm(run, { kernel: img.files.kernel, initrd: img.files.initrd, runDir: work, cacheFile: join(work, 'kvm.json') });
  machine = machineFor(img.meta, verdict.accel, parseTscKhz((await run.exec(TSC_PROBE)).stdout));
}, 300_000);

afterAll(async () => {
  for (const p of pidFiles) {
    if (existsSync(p)) await run.exec(`kill -9 ${sh(readFileSync(p, 'utf8').trim())} 2>/dev/null`);
  }
  for (const ns of netnses) await run.exec(sh('ip', 'netns', 'del', ns));
  rmSync(work, { recursive: true, force: true });
});

describe('KVM probe (local)', () => {
  it('gives a verdict with a reason, caches it, and maps it to accel args', async () => {
    expect(verdict.reason.length).toBeGreaterThan(0);
    expect(verdict.accel).toEqual(verdict.usable ? { accel: 'kvm', cpu: 'host' } : { accel: 'tcg', cpu: 'qemu64' });
    if (!existsSync('/dev/kvm')) expect(verdict).toMatchObject({ usable: false, reason: '/dev/kvm is missing' });
    const cached = JSON.parse(readFileSync(join(work, 'kvm.json'), 'utf8'));
    expect(cached).toEqual({ usable: verdict.usable, checkedAt: verdict.checkedAt, reason: verdict.reason });
    const again = await probeKvm(run, { kernel: img.files.kernel, initrd: img.files.initrd, runDir: work, cacheFile: join(work, 'kvm.json') });
    expect(again.checkedAt).toBe(verdict.checkedAt);
  });
});

/** Launch → readiness marker, and the QEMU's CPU seconds by then (user+sys from /proc): logged, not asserted. */
async function bootTimed(name: string, m: MachineChoice): Promise<{ ms: number; cpuS: number }> {
  const t0 = performance.now();
  const cmd = await launch(spec(name, await overlay(name), {}, '', m));
  const serial = new SerialConsole(await unixStream(cmd.serialSocket), name);
  await serial.waitFor(new RegExp(`${READY_MARKER} ${name} none`), 120_000);
  const ms = performance.now() - t0;
  const stat = readFileSync(`/proc/${readFileSync(cmd.pidFile, 'utf8').trim()}/stat`, 'utf8').split(') ')[1].split(' ');
  const cpuS = (Number(stat[11]) + Number(stat[12])) / 100;
  serial.close();
  await quit(await qmpAt(cmd.qmpSocket));
  return { ms, cpuS };
}

describe('tiny guest under QEMU', () => {
  it('is given microvm here, and boots on the pc machine too (the KVM probe uses it)', async () => {
    expect(machine.machine).toBe('microvm');
    const load = readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
    const micro = await bootTimed('tm', machine);
    const pc = await bootTimed('tp', { machine: 'pc', append: [] });
    process.stdout.write(`tiny guest launch → ready (${verdict.accel.accel}, load ${load}): microvm ${micro.ms.toFixed(0)} ms, ${micro.cpuS.toFixed(2)} s CPU; pc ${pc.ms.toFixed(0)} ms, ${pc.cpuS.toFixed(2)} s CPU\n`);
  });

  it('boots, prints its marker, answers QMP, stops and continues', async () => {
    const cmd = await launch(spec('t1', await overlay('t1')));
    const serial = new SerialConsole(await unixStream(cmd.serialSocket), 't1');
    await serial.waitFor(new RegExp(`${READY_MARKER} t1 none`), 120_000);
    const q = await qmpAt(cmd.qmpSocket);
    expect(await status(q)).toEqual({ running: true, status: 'running', singlestep: false });
    await stop(q);
    expect((await status(q)).status).toBe('paused');
    await cont(q);
    expect((await status(q)).status).toBe('running');
    const r = await serial.run('hostname; echo 6*7=$((6*7))');
    expect(r).toEqual({ code: 0, output: 't1\n6*7=42\n' });
    serial.close();
    await quit(q);
  });

  it('shuts down cleanly on the ACPI power button (QMP system_powerdown)', async () => {
    const cmd = await launch(spec('t4', await overlay('t4')));
    const serial = new SerialConsole(await unixStream(cmd.serialSocket), 't4');
    await serial.waitFor(new RegExp(`${READY_MARKER} t4`), 120_000);
    const q = await qmpAt(cmd.qmpSocket);
    const down = q.waitEvent('SHUTDOWN', 60_000);
    await systemPowerdown(q);
    expect((await down).data).toMatchObject({ guest: true, reason: 'guest-shutdown' });
    serial.close();
    q.close();
  });

  it('saves RAM to a file and restores it: a file in tmpfs and the boot id survive', async () => {
    const disk = await overlay('t2');
    const first = await launch(spec('t2', disk));
    let serial = new SerialConsole(await unixStream(first.serialSocket), 't2');
    await serial.waitFor(new RegExp(`${READY_MARKER} t2`), 120_000);
    const nonce = Math.random().toString(36).slice(2);
    expect((await serial.run(`echo ${nonce} > /tmp/mark`)).code).toBe(0);
    const bootId = (await serial.run('cat /proc/sys/kernel/random/boot_id')).output.trim();
    expect(bootId).toMatch(/^[0-9a-f-]{36}$/);
    serial.close();

    let q = await qmpAt(first.qmpSocket);
    const state = join(work, 't2.state');
    const saved = await saveToFile(q, state);
    expect(saved.status).toBe('completed');
    expect((await status(q)).status).toBe('postmigrate');
    // A restore reads the machine from the state itself.
    expect(await savedMachine(run, state)).toBe(machine.machine);
    await quit(q);

    // Same disks and devices, other socket names, state streamed in from the file.
    const second = await launch(spec('t2', disk, { instance: 'r1', incoming: { kind: 'file', path: state } }));
    q = await qmpAt(second.qmpSocket);
    expect(await finishRestore(q)).toBe('running');
    serial = new SerialConsole(await unixStream(second.serialSocket), 't2');
    expect((await serial.run('cat /tmp/mark')).output.trim()).toBe(nonce);
    expect((await serial.run('cat /proc/sys/kernel/random/boot_id')).output.trim()).toBe(bootId);
    serial.close();
    await quit(q);
  });

  it('answers ping at its vlx.ip address over a tap in a throwaway network namespace', async () => {
    const ns = `vlxtest-img${process.pid % 100000}`;
    await run.run(sh('ip', 'netns', 'add', ns));
    netnses.push(ns);
    const inNs = (...argv: string[]): string => `${sh('ip', 'netns', 'exec', ns)} ${sh(...argv)}`;
    await run.run([
      inNs('ip', 'link', 'set', 'lo', 'up'),
      inNs('ip', 'tuntap', 'add', 'dev', 'vlxt0', 'mode', 'tap'),
      inNs('ip', 'addr', 'add', '10.200.250.1/24', 'dev', 'vlxt0'),
      inNs('ip', 'link', 'set', 'vlxt0', 'up'),
    ].join(' && '));
    const cmd = await launch(
      spec('t3', await overlay('t3'), { nic: { tap: 'vlxt0', mac: '52:54:00:c8:fa:02' } }, tinyGuestParams({ ip: '10.200.250.2', prefix: 24, gw: '10.200.250.1', vc: 'imgtest' })),
      ns,
    );
    const serial = new SerialConsole(await unixStream(cmd.serialSocket), 't3');
    await serial.waitFor(new RegExp(`${READY_MARKER} t3 10\\.200\\.250\\.2`), 120_000);
    // busybox's ping: this machine has no iputils. Three tries: the first may leave before ARP is answered.
    const ping = await run.exec(inNs('busybox', 'ping', '-c', '3', '-W', '5', '10.200.250.2'));
    expect(ping.stdout).toMatch(/[1-3] packets received/);
    const r = await serial.run('ip -4 addr show eth0; ip route; cat /etc/vlx-vc');
    expect(r.output).toContain('inet 10.200.250.2/24');
    expect(r.output).toContain('default via 10.200.250.1 dev eth0 onlink');
    expect(r.output).toContain('imgtest');
    serial.close();
    await quit(await qmpAt(cmd.qmpSocket));
  });
});
