import { readFileSync } from 'node:fs';
import { VlxError } from '../errors.js';
import { sh } from '../util/quote.js';
import type { NodeConn } from '../ssh/types.js';
import { qemuArgs, watchSocket, TCG_ACCEL, type AccelArgs, type VmBoot, type VmDisk, type VmIncoming } from './qemuArgs.js';
import { cont, finishRestore, migrate, observe, openQmp, queryMigrate, quit, saveToFile, stop as qmpStop, systemPowerdown, type MigrationResult, type QmpClient } from './qmp.js';
import { SerialConsole } from './serial.js';
import type { ImageMeta } from '../images/types.js';
import { readImageMeta as readMetaOf } from '../images/library.js';
import { tinyGuestParams } from '../images/tiny.js';
import { seedCommand } from '../images/nocloud.js';
import { NFS_MOUNT_OPTIONS, SHARED_MOUNT_POINT } from '../images/sharedMount.js';
import { sharePath } from '../network/sharedNfs.js';
import { probeKvm } from './kvmProbe.js';
import { machineFor, type MachineChoice } from './machine.js';
import { runningMachine, savedMachine } from './machineFacts.js';
import { vmAddress, vmIndex, vmRuntimePaths } from '../domain/addressing.js';
import { renderHaltScript, renderLaunchScript, renderWaitGoneScript, type HaltVm, type LaunchVm } from './scripts.js';
import { runScript, type VcEnv } from '../cluster/env.js';
import type { VcRow } from '../cluster/repo.js';
import { activeDisks } from '../cluster/snapshotRepo.js';

export const qmpOf = (conn: NodeConn, socket: string, label: string): Promise<QmpClient> => openQmp(conn, socket, { label, timeoutMs: 30_000 });
export async function openSerial(conn: NodeConn, socket: string, label: string): Promise<SerialConsole> {
  return new SerialConsole(await conn.openUnixSocket(socket), label);
}

/** How the guest of a VC boots and whether it tells us it is ready (the one metadata reader: images/library). */
export async function readImageMeta(env: VcEnv, image: string): Promise<ImageMeta> {
  const meta = await readMetaOf(await env.session.any(), image, env.paths.root);
  if (!meta) throw new VlxError('not-found', `image "${image}" has no metadata on shared storage`, 'see `vlx image list`');
  return meta;
}

const accelCache = new Map<string, AccelArgs>();

/**
 * KVM where the node's probe (main/vm/kvmProbe, verdict cached on the node) finds it
 * working, TCG otherwise with a warning in the task log. The probe boots the tiny image's
 * kernel; on a cluster without it we do not risk KVM (LAB-NOTES: a paravirtual /dev/kvm
 * hangs stock kernels) and say so.
 */
export async function accelFor(env: VcEnv, conn: NodeConn, log: (l: string) => void): Promise<AccelArgs> {
  const hit = accelCache.get(conn.name);
  if (hit) return hit;
  const tiny = env.paths.image('tiny');
  let accel: AccelArgs = TCG_ACCEL;
  if ((await conn.exec(`test -r ${sh(tiny.kernel)} && test -r ${sh(tiny.initrd)}`)).code === 0) {
    const v = await probeKvm(conn, { kernel: tiny.kernel, initrd: tiny.initrd, log });
    accel = v.accel;
    // A fresh probe logs its own warning; a cached verdict is said once per node and process.
    if (!v.usable) log(`${conn.name}: TCG emulation (KVM: ${v.reason})`);
  } else {
    log(`warning: ${conn.name}: no tiny image to probe KVM with; VMs run under TCG emulation`);
  }
  accelCache.set(conn.name, accel);
  return accel;
}

/**
 * Keys a cloud-init guest lets in as root: the public half of the key the app reaches the
 * cluster with, when it uses a key file (with an agent, the admin adds keys in the image).
 */
export function vmLoginKeys(env: VcEnv): string[] {
  const file = env.cluster.keyFile;
  if (!file) return [];
  try {
    return [readFileSync(`${file}.pub`, 'utf8').trim()].filter((k) => k.length > 0);
  } catch {
    return [];
  }
}

/** Same for every start of one VM of one VC incarnation: cloud-init keeps its host keys. */
export function instanceId(vc: VcRow, vm: string): string {
  return `${vc.name}-${vm}-${vc.createdAt.replace(/\D/g, '').slice(0, 20)}`;
}

export interface LaunchOptions {
  accel: AccelArgs;
  /** The machine and its kernel parameters; the rule's choice without a known TSC rate when absent. */
  machine?: MachineChoice;
  incoming?: VmIncoming;
  paused?: boolean;
  /** The file the disk writes to when it is not the VC's original disk (a VC snapshot moved it on to an overlay). */
  disk?: string;
}

/** Who a tiny guest is: on its kernel command line, or in the identity line of a warm start. */
export function guestParams(vc: VcRow, vm: string): { ip: string; prefix: number; gw: string; name: string; vc: string; shared: string } {
  const addr = vmAddress(vc.name, vc.subnet, vmIndex(vm));
  return { ip: addr.ip, prefix: addr.prefix, gw: addr.gateway, name: vm, vc: vc.name, shared: `${addr.gateway}:${sharePath(vc.name)}` };
}

/** Everything needed to start one VM of a VC on a node, validated by qemuArgs. */
export function launchSpec(env: VcEnv, vc: VcRow, meta: ImageMeta, vm: string, opts: LaunchOptions): LaunchVm {
  const addr = vmAddress(vc.name, vc.subnet, vmIndex(vm));
  const run = vmRuntimePaths(vc.name, vm);
  const vol = env.paths.vm(vc.name, vm);
  const img = env.paths.image(vc.image);
  const disks: VmDisk[] = [{ path: opts.disk ?? vol.disk, format: 'qcow2' }];
  if (vc.swapMb > 0) disks.push({ path: vol.swap, format: 'qcow2' });
  const share = `${addr.gateway}:${sharePath(vc.name)}`;
  const guest = tinyGuestParams(guestParams(vc, vm));
  let prepare: string | undefined;
  if (meta.seed === 'nocloud') {
    disks.push({ path: vol.seed, format: 'raw', readOnly: true });
    const make = seedCommand(vol.seed, {
      instanceId: instanceId(vc, vm), hostname: vm, mac: addr.mac, address: `${addr.ip}/${addr.prefix}`, gateway: addr.gateway,
      sshKeys: vmLoginKeys(env), nfsMount: { source: share, target: SHARED_MOUNT_POINT, options: NFS_MOUNT_OPTIONS },
    });
    // An incoming VM (restore, migration) keeps the seed its guest booted with.
    prepare = opts.incoming ? `[ -e ${sh(vol.seed)} ] || { ${make}; }` : make;
  }
  const machine = opts.machine ?? machineFor(meta, opts.accel);
  const boot: VmBoot = meta.kind === 'kernel'
    ? { kind: 'kernel', kernel: img.kernel, initrd: img.initrd, append: [meta.cmdline ?? 'console=ttyS0', ...machine.append, guest].join(' ') }
    : { kind: 'disk' };
  const cmd = qemuArgs({
    name: vm,
    runDir: run.dir,
    accel: opts.accel,
    machine: machine.machine,
    memMb: vc.memMb,
    vcpus: vc.vcpus,
    boot,
    disks,
    nic: { tap: addr.tap, mac: addr.mac },
    ...(opts.incoming ? { incoming: opts.incoming } : {}),
    ...(opts.paused ? { paused: true } : {}),
    watch: true,
  });
  return {
    name: vm, runDir: run.dir, pidFile: cmd.pidFile, qmp: cmd.qmpSocket, serial: cmd.serialSocket, argv: cmd.argv,
    tap: addr.tap, tapMac: addr.tapMac, gateway: addr.gateway, ip: addr.ip, ...(prepare ? { prepare } : {}),
  };
}

export function haltSpec(vc: VcRow, vm: string): HaltVm {
  const addr = vmAddress(vc.name, vc.subnet, vmIndex(vm));
  const run = vmRuntimePaths(vc.name, vm);
  return { name: vm, pidFile: run.pid, qmp: run.qmp, serial: run.serial, tap: addr.tap, watch: watchSocket(run.qmp) };
}

/** `started NAME` / `already NAME` lines of the launch script. */
export function parseLaunch(out: string): { started: string[]; already: string[] } {
  const started: string[] = [];
  const already: string[] = [];
  for (const l of out.split('\n')) {
    const m = /^(started|already) (\S+)$/.exec(l.trim());
    if (m) (m[1] === 'started' ? started : already).push(m[2]);
  }
  return { started, already };
}

/** Kill QEMU of these VMs on a node if it still runs and remove their control files and taps. */
export async function haltOnNode(env: VcEnv, vc: VcRow, node: string, vms: string[], opts: { keepTap?: boolean } = {}): Promise<string[]> {
  if (vms.length === 0) return [];
  const conn = await env.session.node(node);
  const out = await runScript(conn, renderHaltScript(vms.map((vm) => haltSpec(vc, vm)), opts));
  return out.split('\n').filter((l) => l.startsWith('killed ')).map((l) => l.slice(7).trim());
}

/**
 * Clean shutdown: the ACPI power button, then wait for QEMU to exit (QEMU quits when the
 * guest powers off) until the deadline; what is left is killed by haltOnNode.
 */
export async function powerdownOnNode(env: VcEnv, vc: VcRow, node: string, vms: string[], timeoutS: number,
  log: (l: string) => void): Promise<void> {
  const conn = await env.session.node(node);
  await Promise.all(vms.map(async (vm) => {
    const h = haltSpec(vc, vm);
    const label = `${node}/${vc.name}/${vm}`;
    let q;
    try {
      q = await qmpOf(conn, h.qmp, label);
    } catch {
      return; // no QMP: not running (or wedged); the hard stop deals with it
    }
    try {
      await systemPowerdown(q);
    } catch (e) {
      log(`${label}: power button failed: ${(e as Error).message}`);
    } finally {
      q.close();
    }
    const gone = (await runScript(conn, renderWaitGoneScript(h.pidFile, timeoutS), (timeoutS + 30) * 1000)).trim();
    log(gone === 'gone' ? `${vc.name}/${vm}: shut down cleanly` : `${vc.name}/${vm}: still running after ${timeoutS} s: stopping it hard`);
  }));
  await haltOnNode(env, vc, node, vms);
}

/**
 * Save one VM's RAM and devices to shared storage: pause, stream the state through QEMU's
 * exec: migration into a .part file, rename it when QEMU reports completion (a killed save
 * never leaves a truncated state a restore would trust), then end QEMU.
 */
export async function saveOnNode(env: VcEnv, vc: VcRow, node: string, vm: string, log: (l: string) => void): Promise<MigrationResult | undefined> {
  const conn = await env.session.node(node);
  const h = haltSpec(vc, vm);
  const vol = env.paths.vm(vc.name, vm);
  const label = `${node}/${vc.name}/${vm}`;
  const have = await conn.exec(`test -s ${sh(vol.state)}`);
  let result: MigrationResult | undefined;
  let q;
  try {
    q = await qmpOf(conn, h.qmp, label);
  } catch {
    q = undefined;
  }
  if (q) {
    try {
      result = await saveOrFinish(conn, q, vol, label, log);
      if (result) await conn.run(sh('mv', '-f', vol.statePart, vol.state));
      if (result) log(`${vc.name}/${vm}: state saved (${result.transferredBytes} bytes in ${result.totalTimeMs} ms)`);
      await quit(q);
    } finally {
      q.close();
    }
  } else if (have.code !== 0) {
    throw new VlxError('remote-failed', `${label}: neither running nor saved: nothing to save`, 'start it, or destroy and re-create the VC');
  }
  await haltOnNode(env, vc, node, [vm]);
  return result;
}

const IN_FLIGHT = ['setup', 'active', 'device', 'pre-switchover', 'wait-unplug', 'cancelling'];

/**
 * Pause and stream the state into the .part file, or finish what a killed save left: a save
 * still streaming is waited for; one that completed (postmigrate) only needs its rename; one
 * that failed left the QEMU in postmigrate, which QEMU refuses to migrate again until it is
 * continued (its state went nowhere, so resuming it for an instant is safe) and paused again.
 * Returns undefined when the state file is already complete.
 */
async function saveOrFinish(conn: NodeConn, q: QmpClient, vol: { state: string; statePart: string }, label: string,
  log: (l: string) => void): Promise<MigrationResult | undefined> {
  for (let i = 0; ; i++) {
    const o = await observe(q);
    if (IN_FLIGHT.includes(o.migration) && i < 600) {
      await new Promise((r) => setTimeout(r, 100));
      continue;
    }
    if (o.status === 'postmigrate' && o.migration === 'completed') {
      if ((await conn.exec(`test -s ${sh(vol.statePart)}`)).code === 0) {
        log(`recovery: ${label}: an interrupted save had completed: keeping its state file`);
        const m = await queryMigrate(q);
        return { status: 'completed', totalTimeMs: m['total-time'] ?? 0, downtimeMs: m.downtime ?? 0, transferredBytes: m.ram?.transferred ?? 0 };
      }
      if ((await conn.exec(`test -s ${sh(vol.state)}`)).code === 0) return undefined;
      // Completed towards another QEMU, not a file: this is what a live move left behind (the settle step deals with it).
      throw new VlxError('conflict', `${label}: this QEMU handed its guest to another QEMU (postmigrate): it has nothing to save`, 'see `vlx vc status`');
    }
    if (o.status === 'postmigrate' || o.status === 'finish-migrate') {
      log(`recovery: ${label}: an interrupted save left the VM in ${o.status} (${o.migration}): saving again`);
      await cont(q);
    }
    await qmpStop(q);
    return saveToFile(q, vol.statePart);
  }
}

/** Restore VMs of a VC on a node from their saved states, then delete the state files. */
export async function restoreOnNode(env: VcEnv, vc: VcRow, meta: ImageMeta, node: string, vms: string[], log: (l: string) => void): Promise<void> {
  const conn = await env.session.node(node);
  const accel = await accelFor(env, conn, log);
  const disks = await activeDisks(env.db, env.paths, vc.name);
  const specs = await Promise.all(vms.map(async (vm) => launchSpec(env, vc, meta, vm, { accel, disk: disks.get(vm),
    machine: { machine: await savedMachine(conn, env.paths.vm(vc.name, vm).state), append: [] }, incoming: { kind: 'file', path: env.paths.vm(vc.name, vm).state } })));
  const res = parseLaunch(await runScript(conn, renderLaunchScript(specs)));
  await Promise.all(specs.map(async (spec) => {
    const label = `${node}/${vc.name}/${spec.name}`;
    const q = await qmpOf(conn, spec.qmp, label);
    try {
      const state = await finishRestore(q);
      log(`${vc.name}/${spec.name}: ${res.already.includes(spec.name) ? 'was already running' : 'restored'} on ${node} (${state})`);
    } finally {
      q.close();
    }
    await conn.run(sh('rm', '-f', env.paths.vm(vc.name, spec.name).state));
  }));
}

/** A TCP port for a VM's incoming migration on its target node; stable per VM, above the ephemeral range's usual start. */
export function migrationPort(ip: string): number {
  const last = ip.split('.').map(Number);
  return 40000 + ((last[2] * 256 + last[3]) % 9000);
}

/**
 * Live-migrate a running VM: a target QEMU waits on TCP on the target node (with its tap, same
 * MAC), the source sends RAM over TCP with a high bandwidth cap and a 100 ms downtime limit,
 * the target runs on. The caller moves routes and mapping, then ends the source.
 */
export async function migrateToNode(env: VcEnv, vc: VcRow, meta: ImageMeta, vm: string, from: string, to: string, toAddress: string,
  log: (l: string) => void): Promise<MigrationResult> {
  const src = await env.session.node(from);
  const dst = await env.session.node(to);
  const accel = await accelFor(env, dst, log);
  const srcAccel = await accelFor(env, src, log);
  if (accel.accel !== srcAccel.accel) {
    throw new VlxError('conflict', `${vc.name}/${vm}: ${from} runs ${srcAccel.accel} and ${to} ${accel.accel}: a live migration needs the same accelerator`);
  }
  const addr = vmAddress(vc.name, vc.subnet, vmIndex(vm));
  const port = migrationPort(addr.ip);
  const disk = (await activeDisks(env.db, env.paths, vc.name)).get(vm);
  const h = haltSpec(vc, vm);
  const q = await qmpOf(src, h.qmp, `${from}/${vc.name}/${vm}`);
  let result: MigrationResult;
  let spec: LaunchVm;
  try {
    // The target gets the source's machine: the device state only loads into the same one.
    spec = launchSpec(env, vc, meta, vm, { accel, machine: { machine: await runningMachine(q), append: [] }, incoming: { kind: 'tcp', host: toAddress, port }, disk });
    const res = parseLaunch(await runScript(dst, renderLaunchScript([spec])));
    if (res.already.includes(vm)) {
      throw new VlxError('conflict', `${vc.name}/${vm}: a QEMU for it already runs on ${to}`, 'check `vlx vc status` for drift');
    }
    result = await migrate(q, `tcp:${toAddress}:${port}`, { downtimeLimitMs: 100 });
  } catch (e) {
    // Not necessarily a failed migration: a lost connection to the source says nothing about
    // the stream, which QEMU carries on alone. The caller settles from what both QEMUs say.
    q.close();
    throw e;
  }
  q.close();
  const tq = await qmpOf(dst, spec.qmp, `${to}/${vc.name}/${vm}`);
  try {
    const st = await finishRestore(tq, { timeoutMs: 30_000 });
    log(`${vc.name}/${vm}: migrated ${from} → ${to} in ${result.totalTimeMs} ms, downtime ${result.downtimeMs} ms (${state(st)})`);
  } finally {
    tq.close();
  }
  return result;
}

function state(s: string): string {
  return s === 'running' ? 'running' : `now ${s}`;
}
