/**
 * Warm start: VMs of an image that can boot as a template (ImageMeta.warm, the tiny guests)
 * start from a saved booted state instead of booting. Under TCG a boot is about two seconds of
 * emulated kernel init per guest, and eight guests on two cores wait for each other; loading a
 * saved state and telling the guest who it is costs a fraction of that.
 *
 * The template: one QEMU of the VC's machine shape (machine, memory, vCPUs, disks, a NIC linked
 * to nothing) boots the image with `vlx.warm=1`. Its init does all that does not depend on who
 * the guest is (modules, mounts, the power button's daemon), then prints WARM_WAIT_MARKER and
 * waits on its console (images/tinyInit.ts). It is paused there and saved to shared storage. A
 * VM then starts as a restore of that state and gets one identity line on its console: address,
 * gateway, names, shared export, its MAC, the time, and a seed for its random pool. The disk
 * driver binds only after that line, so a VM never sees the template's disks.
 *
 * A template is keyed by a hash of its QEMU command line (with fixed names and paths), the
 * image's build inputs and the node's QEMU version: a new image, another memory size or machine,
 * another QEMU each get their own. A template that does not load is deleted and the VM boots in
 * full; so does every VM of a start asked to boot cold.
 */
import { createHash, randomBytes } from 'node:crypto';
import { VlxError } from '../errors.js';
import { sh } from '../util/quote.js';
import type { NodeConn } from '../ssh/types.js';
import type { ImageMeta } from '../images/types.js';
import { tinyGuestParams } from '../images/tiny.js';
import { NODE_RUN } from '../domain/nodePaths.js';
import { SERIAL_COMMAND_MAX } from '../domain/consoleCommand.js';
import type { StoragePaths } from '../domain/storagePaths.js';
import { checkMac, qemuArgs, type AccelArgs, type QemuCommand, type VmDisk } from './qemuArgs.js';
import type { MachineChoice } from './machine.js';
import { openQmp, quit, saveToFile, stop as qmpStop } from './qmp.js';
import { SerialConsole, WARM_IDENTITY_TAG, WARM_WAIT_MARKER } from './serial.js';

/** How a start boots its VMs: from the image's warm template where it has one, or in full. */
export type BootMode = 'warm' | 'cold';

/** Whether VMs of this image can start from a template: built for it, and booted from a kernel. */
export function warmCapable(meta: Pick<ImageMeta, 'kind' | 'warm'>): boolean {
  return meta.kind === 'kernel' && meta.warm === true;
}

/** The template's MAC: locally administered, never a VM's (domain/macs gives VMs theirs). */
export const TEMPLATE_MAC = '02:00:00:00:00:01';
/** Where template QEMUs run while they are built: not under the VMs' directory, which the node scan reads. */
export const TEMPLATE_RUN = `${NODE_RUN}/warm`;
/** A build dir older than this belongs to a workstation that died half-way: its QEMU is ended. */
const STALE_BUILD_S = 600;
/** The template boot: a full boot of the guest, under TCG on a loaded node. */
const TEMPLATE_BOOT_MS = 180_000;

export interface TemplateShape {
  image: string;
  meta: Pick<ImageMeta, 'inputs' | 'cmdline'>;
  kernel: string;
  initrd: string;
  machine: MachineChoice;
  accel: AccelArgs;
  memMb: number;
  vcpus: number;
  /** The formats of the VM's disks in guest order: the template has the same devices. */
  disks: VmDisk['format'][];
}

/** The template QEMU's command for a build directory; pure. */
export function templateCommand(shape: TemplateShape, runDir: string): QemuCommand {
  return qemuArgs({
    name: 'template',
    runDir,
    accel: shape.accel,
    machine: shape.machine.machine,
    memMb: shape.memMb,
    vcpus: shape.vcpus,
    boot: { kind: 'kernel', kernel: shape.kernel, initrd: shape.initrd, append: [shape.meta.cmdline ?? 'console=ttyS0', ...shape.machine.append, 'vlx.warm=1'].join(' ') },
    disks: shape.disks.map((format, i) => ({ path: `${runDir}/disk${i}.${format}`, format })),
    nic: { tap: null, mac: TEMPLATE_MAC },
    paused: true,
  });
}

/** The key of a template: everything its saved state depends on. Pure; 16 hex digits. */
export function templateKey(shape: TemplateShape, qemuVersion: string): string {
  const argv = templateCommand(shape, `${TEMPLATE_RUN}/key`).argv;
  return createHash('sha256').update(JSON.stringify({ argv, inputs: shape.meta.inputs, qemuVersion })).digest('hex').slice(0, 16);
}

export interface Identity {
  ip: string;
  prefix: number;
  gw: string;
  name: string;
  vc: string;
  shared: string;
  mac: string;
  /** Seconds since the epoch: the template's clock stopped when it was saved. */
  time: number;
  /** 64 hex digits mixed into the guest's random pool: every copy of a template shares its pool. */
  seed: string;
}

/** The line a waiting guest takes as its command line (images/tinyInit.ts); validated, one console line. */
export function identityLine(id: Identity): string {
  const mac = checkMac(id.mac, 'mac');
  if (!Number.isInteger(id.time) || id.time < 0 || id.time > 2 ** 40) throw new VlxError('invalid-input', `time: must be whole seconds since the epoch (got ${id.time})`);
  if (!/^[0-9a-f]{64}$/.test(id.seed)) throw new VlxError('invalid-input', 'seed: must be 64 lowercase hex digits');
  const params = tinyGuestParams({ ip: id.ip, prefix: id.prefix, gw: id.gw, name: id.name, vc: id.vc, shared: id.shared });
  const line = `${WARM_IDENTITY_TAG} ${params} vlx.mac=${mac} vlx.time=${id.time} vlx.seed=${id.seed}`;
  if (line.length > SERIAL_COMMAND_MAX) throw new VlxError('invalid-input', `identity: must be at most ${SERIAL_COMMAND_MAX} characters on the console (got ${line.length})`);
  return `${line}\n`;
}

/** A fresh identity's time and seed. */
export function freshEntropy(): { time: number; seed: string } {
  return { time: Math.floor(Date.now() / 1000), seed: randomBytes(32).toString('hex') };
}

const qemuVersions = new Map<string, string>();
async function qemuVersion(conn: NodeConn): Promise<string> {
  const hit = qemuVersions.get(conn.name);
  if (hit) return hit;
  const v = (await conn.run('qemu-system-x86_64 --version')).split('\n')[0]?.trim() ?? '';
  qemuVersions.set(conn.name, v);
  return v;
}

/** Builds in flight in this process, by template file: the nodes of one start wait for one build. */
const building = new Map<string, Promise<string>>();

/**
 * The template file for this shape, built on `conn`'s node when shared storage has none yet.
 * Throws when it cannot be built; the caller boots cold then.
 */
export async function ensureTemplate(conn: NodeConn, paths: Pick<StoragePaths, 'warmState'>, shape: TemplateShape,
  log: (l: string) => void): Promise<string> {
  const file = paths.warmState(shape.image, templateKey(shape, await qemuVersion(conn)));
  // Registered before anything else is awaited, so the other nodes of the start find it.
  let p = building.get(file);
  if (!p) {
    p = (async () => ((await conn.exec(`test -s ${sh(file)}`)).code === 0 ? file : buildTemplate(conn, file, shape, log)))()
      .finally(() => building.delete(file));
    building.set(file, p);
  }
  return p;
}

/** Ends the template QEMUs of build directories left by a workstation that died mid-build. */
export function renderStaleBuildsScript(): string {
  return [
    `for d in $(find ${sh(TEMPLATE_RUN)} -mindepth 1 -maxdepth 1 -type d -mmin +${Math.ceil(STALE_BUILD_S / 60)} 2>/dev/null); do`,
    '  [ -r "$d/template.pid" ] && kill -9 "$(cat "$d/template.pid")" 2>/dev/null',
    '  rm -rf "$d"',
    'done',
  ].join('\n') + '\n';
}

async function buildTemplate(conn: NodeConn, file: string, shape: TemplateShape, log: (l: string) => void): Promise<string> {
  const t0 = Date.now();
  // Each build its own directory and part file: two workstations building at once both finish,
  // and the rename makes one of the two equal results the template.
  const id = randomBytes(4).toString('hex');
  const dir = `${TEMPLATE_RUN}/${id}`;
  const part = `${file}.${id}.part`;
  const cmd = templateCommand(shape, dir);
  const dirOf = (f: string): string => f.slice(0, f.lastIndexOf('/'));
  await conn.run([
    renderStaleBuildsScript(),
    sh('mkdir', '-p', dir, dirOf(file)),
    ...shape.disks.map((format, i) => `${sh('qemu-img', 'create', '-q', '-f', format, `${dir}/disk${i}.${format}`, '1M')} > /dev/null`),
    `${sh(...cmd.argv)} 2> ${sh(`${dir}/qemu.err`)} || { cat ${sh(`${dir}/qemu.err`)} >&2; exit 1; }`,
  ].join('\n'));
  let serial: SerialConsole | undefined;
  const q = await openQmp(conn, cmd.qmpSocket, { label: `${conn.name}/template`, timeoutMs: 30_000 });
  try {
    serial = new SerialConsole(await conn.openUnixSocket(cmd.serialSocket), `${conn.name}/template`);
    await q.execute('cont');
    await serial.waitFor(new RegExp(WARM_WAIT_MARKER), TEMPLATE_BOOT_MS);
    await qmpStop(q);
    const saved = await saveToFile(q, part);
    await conn.run(sh('mv', '-f', part, file));
    log(`warm start: template of ${shape.image} (${shape.machine.machine}, ${shape.memMb} MB, ${shape.vcpus} vCPU) built on ${conn.name} ` +
      `in ${((Date.now() - t0) / 1000).toFixed(1)} s, ${(saved.transferredBytes / 1e6).toFixed(0)} MB`);
    await quit(q);
    return file;
  } catch (e) {
    throw new VlxError('remote-failed', `warm-start template of ${shape.image} on ${conn.name}: ${(e as Error).message}`);
  } finally {
    q.close();
    serial?.close();
    await conn.exec([
      `[ -r ${sh(cmd.pidFile)} ] && kill -9 "$(cat ${sh(cmd.pidFile)})" 2>/dev/null`,
      sh('rm', '-rf', dir, part),
    ].join('; ')).catch(() => undefined);
  }
}

/** How many VMs of this process are loading each template now. */
const loading = new Map<string, number>();
/** Templates found bad, deleted once nobody loads them. */
const bad = new Map<string, NodeConn>();

/**
 * Marks a template in use while VMs load it; the returned function ends the use. A QEMU told to
 * load a file that is gone waits for ever (QEMU 7.2 does not notice its `exec:cat` failing), so
 * a template found bad on one node is deleted only when no other node of this process loads it.
 */
export function useTemplate(file: string): () => Promise<void> {
  loading.set(file, (loading.get(file) ?? 0) + 1);
  let done = false;
  return async () => {
    if (done) return;
    done = true;
    const n = (loading.get(file) ?? 1) - 1;
    if (n > 0) {
      loading.set(file, n);
      return;
    }
    loading.delete(file);
    const conn = bad.get(file);
    if (conn) {
      bad.delete(file);
      await conn.exec(sh('rm', '-f', file)).catch(() => undefined);
    }
  };
}

/** Deletes a template that did not load (another QEMU build, a damaged file), once nobody loads it: the next start makes a new one. */
export async function dropTemplate(conn: NodeConn, file: string): Promise<void> {
  if ((loading.get(file) ?? 0) > 0) bad.set(file, conn);
  else await conn.exec(sh('rm', '-f', file));
}

/** A saved state of ~75 MB loads in well under a second: a load still going after this has gone wrong. */
export const TEMPLATE_LOAD_MS = 30_000;
