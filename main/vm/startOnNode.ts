/**
 * Starting the VMs of a VC on one node: cold (QEMU boots the guest) or warm (QEMU loads the
 * image's booted template and the guest is told who it is, main/vm/warmStart.ts), and a start
 * cut off half-way finished by the next.
 */
import { VlxError } from '../errors.js';
import { sh } from '../util/quote.js';
import type { NodeConn } from '../ssh/types.js';
import type { AccelArgs } from './qemuArgs.js';
import { cont, finishRestore, status as qmpStatus } from './qmp.js';
import { READY_MARKER, readyNote, SerialConsole, WARM_WAIT_MARKER } from './serial.js';
import type { ImageMeta } from '../images/types.js';
import { SHARED_FAILED_MARKER } from '../images/sharedMount.js';
import { nfsPaths, sharePath } from '../network/sharedNfs.js';
import { machineFor, type MachineChoice } from './machine.js';
import { hostTscKhz } from './machineFacts.js';
import { dropTemplate, ensureTemplate, freshEntropy, identityLine, TEMPLATE_LOAD_MS, useTemplate, warmCapable, type BootMode } from './warmStart.js';
import { vmAddress, vmIndex } from '../domain/addressing.js';
import { renderLaunchScript, type LaunchVm } from './scripts.js';
import { runScript, type VcEnv } from '../cluster/env.js';
import type { VcRow } from '../cluster/repo.js';
import { activeDisks } from '../cluster/snapshotRepo.js';
import { accelFor, guestParams, haltOnNode, launchSpec, openSerial, parseLaunch, qmpOf } from './vmOps.js';

export interface StartOnNodeResult {
  started: string[];
  already: string[];
}

export interface StartOptions {
  /** How long a guest may take from launch to its readiness marker. */
  readyTimeoutMs?: number;
  /** 'cold' boots every VM in full even when its image has a warm-start template (main/vm/warmStart.ts). */
  boot?: BootMode;
}

/** Which of these VMs' QEMUs were started from a warm-start template (their command line loads one). */
async function warmStartedOf(conn: NodeConn, env: VcEnv, specs: LaunchVm[]): Promise<Set<string>> {
  if (specs.length === 0) return new Set();
  const dir = `${env.paths.warmDir}/`;
  const script = specs.map((s) => `p=$(cat ${sh(s.pidFile)} 2>/dev/null) && tr '\\0' '\\n' < "/proc/$p/cmdline" 2>/dev/null | grep -qF ${sh(dir)} && echo ${sh(s.name)}`).join('\n');
  const out = await conn.exec(`${script}\ntrue`);
  return new Set(out.stdout.split('\n').map((l) => l.trim()).filter((l) => specs.some((s) => s.name === l)));
}

/** The template a start on this node loads, or undefined (cold boot, with the reason in the log when it is a failure). */
async function templateFor(env: VcEnv, conn: NodeConn, vc: VcRow, meta: ImageMeta, machine: MachineChoice, accel: AccelArgs,
  log: (l: string) => void): Promise<string | undefined> {
  const img = env.paths.image(vc.image);
  try {
    return await ensureTemplate(conn, env.paths, {
      image: vc.image, meta, kernel: img.kernel, initrd: img.initrd, machine, accel, memMb: vc.memMb, vcpus: vc.vcpus,
      disks: vc.swapMb > 0 ? ['qcow2', 'qcow2'] : ['qcow2'],
    }, log);
  } catch (e) {
    log(`warning: ${(e as Error).message}; the VMs on ${conn.name} boot in full`);
    return undefined;
  }
}

/** A QEMU whose state did not load: the template is at fault, not the VM. */
class TemplateLoadFailed extends Error {}

/**
 * Starts VMs of one VC on one node. QEMU comes up paused (-S) so that we attach to the
 * serial socket before the guest prints anything (the socket keeps no backlog), then `cont`
 * and wait for the image's readiness marker. A VM already running is left alone.
 *
 * Where the image has a warm-start template (main/vm/warmStart.ts), each QEMU loads it
 * instead of booting and the guest is told its identity on the console. A start cut off
 * half-way finds such a guest still waiting (it says so every second) and tells it then.
 */
export async function startOnNode(env: VcEnv, vc: VcRow, meta: ImageMeta, node: string, vms: string[],
  log: (l: string) => void, opts: StartOptions = {}): Promise<StartOnNodeResult> {
  const conn = await env.session.node(node);
  const accel = await accelFor(env, conn, log);
  const disks = await activeDisks(env.db, env.paths, vc.name);
  const machine = machineFor(meta, accel, accel.accel === 'tcg' ? await hostTscKhz(conn) : undefined);
  const template = warmCapable(meta) && opts.boot !== 'cold' ? await templateFor(env, conn, vc, meta, machine, accel, log) : undefined;
  const specs = vms.map((vm) => launchSpec(env, vc, meta, vm, {
    accel, machine, paused: true, disk: disks.get(vm), ...(template ? { incoming: { kind: 'file', path: template } } : {}),
  }));
  const release = template ? useTemplate(template) : async () => undefined;
  try {
    return await startLaunched(env, vc, meta, node, conn, specs, template, log, opts);
  } finally {
    await release();
  }
}

/** startOnNode once the specs are made: launch, then bring every VM to its readiness marker. */
async function startLaunched(env: VcEnv, vc: VcRow, meta: ImageMeta, node: string, conn: NodeConn, specs: LaunchVm[], template: string | undefined,
  log: (l: string) => void, opts: StartOptions): Promise<StartOnNodeResult> {
  const readyTimeoutMs = opts.readyTimeoutMs ?? 180_000;
  const specOf = (vm: string): LaunchVm => specs.find((s) => s.name === vm) as LaunchVm;
  const res = parseLaunch(await runScript(conn, renderLaunchScript(specs)));
  const warmAlready = warmCapable(meta) ? await warmStartedOf(conn, env, res.already.map(specOf)) : new Set<string>();
  // A QEMU left by a killed start may still wait in prelaunch (or paused): it is continued like a new one.
  const resume: string[] = [];
  const prelaunch: string[] = [];
  await Promise.all(res.already.filter((vm) => !warmAlready.has(vm)).map(async (vm) => {
    const q = await qmpOf(conn, specOf(vm).qmp, `${node}/${vc.name}/${vm}`);
    try {
      const st = (await qmpStatus(q)).status;
      if (st === 'prelaunch' || st === 'paused') resume.push(vm);
      if (st === 'prelaunch') prelaunch.push(vm);
      log(`${vc.name}/${vm}: already ${st === 'running' ? 'running' : `there (${st})`} on ${node}`);
    } finally {
      q.close();
    }
  }));
  // Both built guests print the marker; an imported image is only known to run.
  const waitReady = meta.guest === 'busybox' || meta.guest === 'debian';
  // A full Debian boot with cloud-init takes a minute or two under TCG.
  const readyMs = meta.guest === 'debian' ? Math.max(readyTimeoutMs, 900_000) : readyTimeoutMs;

  const awaitReady = async (vm: string, serial: SerialConsole): Promise<void> => {
    const ready = await serial.waitFor(new RegExp(`${READY_MARKER} ${vm} (\\S+)\\r?\\n`), readyMs).catch((e: unknown) => {
      // What the guest printed last says why (a panic, too little memory, a missing module).
      const tail = serial.output.slice(-300).replace(/\r/g, '').trim().split('\n').slice(-3).join(' | ');
      throw new VlxError('timeout', `${(e as Error).message}; console ended with: ${tail || '(nothing)'}`);
    });
    // The guest says which address it configured: anything else is a network setup that failed inside it.
    const expected = vmAddress(vc.name, vc.subnet, vmIndex(vm)).ip;
    if (ready[1] !== expected) log(`warning: ${vc.name}/${vm}: the guest reports address ${ready[1]}, not ${expected}: its network configuration failed`);
    log(`${vc.name}/${vm}: running on ${node} (${readyNote(serial.output)})`);
    if (serial.output.includes(SHARED_FAILED_MARKER)) {
      log(`warning: ${vc.name}/${vm}: the guest could not mount the VC's shared storage (${sharePath(vc.name)} from its gateway); see the node's ${nfsPaths.log}`);
    }
  };

  const cold = async (vm: string): Promise<void> => {
    const spec = specOf(vm);
    const label = `${node}/${vc.name}/${vm}`;
    // A guest that was paused after it booted has printed its marker long ago; one in prelaunch has not started.
    const serial = waitReady && (!resume.includes(vm) || prelaunch.includes(vm)) ? await openSerial(conn, spec.serial, label) : undefined;
    const q = await qmpOf(conn, spec.qmp, label);
    try {
      await q.execute('cont');
      if (serial) await awaitReady(vm, serial);
      else log(`${vc.name}/${vm}: running on ${node}`);
    } finally {
      q.close();
      serial?.close();
    }
  };

  // fresh: launched by this start from the template; otherwise a warm-started QEMU found running.
  const warm = async (vm: string, fresh: boolean): Promise<void> => {
    const spec = specOf(vm);
    const label = `${node}/${vc.name}/${vm}`;
    // A QEMU that cannot load the state exits at once: its QMP closes or never opens.
    const loadFailed = (e: unknown): never => {
      throw fresh ? new TemplateLoadFailed((e as Error).message) : e;
    };
    const q = await qmpOf(conn, spec.qmp, label).catch(loadFailed);
    let serial: SerialConsole | undefined;
    try {
      const st = await finishRestore(q, { resume: false, timeoutMs: TEMPLATE_LOAD_MS }).catch(loadFailed);
      serial = await openSerial(conn, spec.serial, label);
      if (st !== 'running') await cont(q);
      if (!fresh && !(await serial.waitFor(new RegExp(WARM_WAIT_MARKER), WARM_WAIT_PROBE_MS).then(() => true, () => false))) {
        log(`${vc.name}/${vm}: already running on ${node}`);
        return;
      }
      const addr = vmAddress(vc.name, vc.subnet, vmIndex(vm));
      serial.write(identityLine({ ...guestParams(vc, vm), mac: addr.mac, ...freshEntropy() }));
      await awaitReady(vm, serial);
    } finally {
      q.close();
      serial?.close();
    }
  };

  const failed: { vm: string; why: string }[] = [];
  await Promise.all([
    ...[...res.started, ...resume].map((vm) => (template && res.started.includes(vm) ? warm(vm, true).catch((e: unknown) => {
      if (!(e instanceof TemplateLoadFailed)) throw e;
      failed.push({ vm, why: e.message });
    }) : cold(vm))),
    ...[...warmAlready].map((vm) => warm(vm, false)),
  ]);
  if (failed.length > 0 && template) {
    // Not the VMs' fault: the template is deleted (the next start makes a new one) and they boot in full.
    log(`warning: ${node}: the warm-start template did not load (${failed[0].why}); it is deleted and ${failed.map((f) => f.vm).join(', ')} boot in full`);
    await dropTemplate(conn, template);
    const vmsAgain = failed.map((f) => f.vm);
    await haltOnNode(env, vc, node, vmsAgain, { keepTap: true });
    await startOnNode(env, vc, meta, node, vmsAgain, log, { ...opts, boot: 'cold' });
  }
  return res;
}

/** How long a warm-started guest found running is watched for the line that says it still waits. */
const WARM_WAIT_PROBE_MS = 2500;
