import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { VlxError, invalid } from '../errors.js';
import { localRunner } from '../images/local.js';
import { checkName } from '../util/names.js';
import { probeKvm } from '../vm/kvmProbe.js';
import { TCG_ACCEL, type AccelArgs } from '../vm/qemuArgs.js';
import { labDir } from '../config/paths.js';
import { BRIDGE, VETH_PREFIX, checkLabDir } from './layout.js';
import { mustRun, runLocal, sleep } from './local.js';
import { readPidFile } from './pidFile.js';

/**
 * Disk-less machines of the lab: QEMU with no disk, an e1000 NIC whose option ROM is iPXE,
 * booting from the network (`-boot n`) on a tap of the lab bridge. They play the cluster's
 * new physical nodes: everything they boot comes from the namespace nodes (DHCP, TFTP, the
 * root over NBD). They run on the host, outside every namespace, so crashing a node never
 * takes a machine with it. Files live in <lab dir>/machines/<name>/.
 */
export const IPXE_ROM = '/usr/lib/ipxe/qemu/pxe-e1000.rom';
export const MACHINE_MEM_MB = 768;
/** Taps start with the lab's link prefix: `vlx lab down` removes them with the veths. */
const TAP_PREFIX = `${VETH_PREFIX}m`;
const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

export interface MachineFiles {
  dir: string;
  pid: string;
  qmp: string;
  serial: string;
  json: string;
}

export interface MachineInfo {
  name: string;
  mac: string;
  tap: string;
  running: boolean;
  pid?: number;
  accel: 'kvm' | 'tcg';
  serialLog: string;
  startedAt?: string;
}

/** Locally administered, unicast, fixed by the name: a machine powered on again is the same machine to DHCP. */
export function machineMac(name: string): string {
  const h = createHash('sha256').update(`vlx-machine:${name}`).digest();
  return ['52', '54', '77', ...[0, 1, 2].map((i) => h[i]!.toString(16).padStart(2, '0'))].join(':');
}

export function machineTap(name: string): string {
  return TAP_PREFIX + createHash('sha256').update(`vlx-tap:${name}`).digest('hex').slice(0, 8);
}

export function checkMachineMac(value: unknown, field = 'mac'): string {
  const v = typeof value === 'string' ? value.toLowerCase() : value;
  if (typeof v !== 'string' || !MAC_RE.test(v)) throw invalid(field, 'must be a MAC address like 52:54:00:12:34:56', value);
  if (parseInt(v.slice(0, 2), 16) & 1) throw invalid(field, 'must be a unicast MAC (the first octet is even)', value);
  return v;
}

export function machineFiles(labRoot: string, name: string): MachineFiles {
  const dir = join(labRoot, 'machines', checkName('node', name, 'NAME'));
  return { dir, pid: join(dir, 'qemu.pid'), qmp: join(dir, 'qmp.sock'), serial: join(dir, 'serial.log'), json: join(dir, 'machine.json') };
}

/** QEMU's argv for one machine: no disk, iPXE on an e1000, the serial console to a file. */
export function machineArgs(o: { name: string; mac: string; tap: string; accel: AccelArgs; files: MachineFiles; memMb?: number }): string[] {
  return [
    '-name', `vlx-machine-${o.name}`,
    // graphics=off: SeaBIOS and iPXE write to the serial console, where the boot is read and timed.
    '-machine', `pc,accel=${o.accel.accel},graphics=off`, '-cpu', o.accel.cpu,
    '-m', String(o.memMb ?? MACHINE_MEM_MB), '-smp', '1',
    '-nodefaults', '-no-user-config', '-display', 'none', '-vga', 'none',
    '-netdev', `tap,id=net0,ifname=${o.tap},script=no,downscript=no`,
    '-device', `e1000,netdev=net0,mac=${o.mac},romfile=${IPXE_ROM}`,
    '-boot', 'n',
    '-chardev', `file,id=serial0,path=${o.files.serial}`, '-serial', 'chardev:serial0',
    '-qmp', `unix:${o.files.qmp},server=on,wait=off`,
    '-pidfile', o.files.pid, '-daemonize',
  ];
}

/** The machine's QEMU, if its pid file names a live QEMU started with this machine's pid file. */
function livePid(f: MachineFiles): number | undefined {
  const pid = readPidFile(f.pid);
  if (!pid) return undefined;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(f.pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

function readInfo(f: MachineFiles): Omit<MachineInfo, 'running' | 'pid'> | undefined {
  try {
    return JSON.parse(readFileSync(f.json, 'utf8')) as Omit<MachineInfo, 'running' | 'pid'>;
  } catch {
    return undefined;
  }
}

/** KVM where a short boot of the tiny guest proves it works (cached in the lab dir), else TCG. */
async function machineAccel(labRoot: string): Promise<AccelArgs> {
  const kernel = join(labRoot, 'shared', 'images', 'tiny.kernel');
  const initrd = join(labRoot, 'shared', 'images', 'tiny.initrd');
  if (!existsSync('/dev/kvm') || !existsSync(kernel) || !existsSync(initrd)) return TCG_ACCEL;
  const dir = join(labRoot, 'machines');
  return (await probeKvm(localRunner(), { kernel, initrd, runDir: dir, cacheFile: join(dir, 'kvm.json') })).accel;
}

async function ensureTap(tap: string): Promise<void> {
  const r = await runLocal('ip', ['link', 'show', tap]);
  if (r.code !== 0) await mustRun('ip', ['tuntap', 'add', 'dev', tap, 'mode', 'tap']);
  await mustRun('ip', ['link', 'set', tap, 'master', BRIDGE, 'up']);
}

export async function powerOn(labRoot: string, name: string, mac?: string): Promise<MachineInfo> {
  const f = machineFiles(labRoot, name);
  const m = mac === undefined ? machineMac(name) : checkMachineMac(mac);
  const pid = livePid(f);
  const prev = readInfo(f);
  if (pid) {
    if (prev && prev.mac !== m) throw new VlxError('conflict', `machine ${name} is already on with MAC ${prev.mac}`, `power it off first: vlx lab power-off ${name}`);
    return { ...(prev ?? { name, mac: m, tap: machineTap(name), accel: 'tcg', serialLog: f.serial }), running: true, pid };
  }
  if ((await runLocal('ip', ['link', 'show', BRIDGE])).code !== 0) throw new VlxError('conflict', 'the lab network is down', 'run `vlx lab up` first');
  if (!existsSync(IPXE_ROM)) throw new VlxError('missing-tool', `no iPXE ROM at ${IPXE_ROM}`, 'apt-get install ipxe-qemu');
  const taken = listMachines(labRoot).find((x) => x.running && x.mac === m && x.name !== name);
  if (taken) throw invalid('mac', `is already the MAC of running machine ${taken.name}`, m);
  mkdirSync(f.dir, { recursive: true, mode: 0o700 });
  const tap = machineTap(name);
  await ensureTap(tap);
  const accel = await machineAccel(labRoot);
  // A new power-on is a new boot: the console log starts empty.
  rmSync(f.serial, { force: true });
  rmSync(f.qmp, { force: true });
  const startedAt = new Date().toISOString();
  const r = await runLocal('qemu-system-x86_64', machineArgs({ name, mac: m, tap, accel, files: f }));
  if (r.code !== 0) throw new VlxError('internal', `QEMU did not start machine ${name}: ${r.stderr.trim().slice(-400)}`);
  const info = { name, mac: m, tap, accel: accel.accel, serialLog: f.serial, startedAt };
  writeFileSync(f.json, JSON.stringify(info, null, 2) + '\n', { mode: 0o600 });
  const now = livePid(f);
  if (!now) throw new VlxError('internal', `machine ${name}: QEMU exited right after starting`);
  return { ...info, running: true, pid: now };
}

function qmpQuit(socket: string): Promise<void> {
  return new Promise((resolve) => {
    const s = connect(socket);
    const done = () => { s.destroy(); resolve(); };
    s.setTimeout(2000, done);
    s.on('error', done);
    s.on('close', done);
    s.once('data', () => s.write('{"execute":"qmp_capabilities"}\n{"execute":"quit"}\n'));
  });
}

/** Pull the plug: QEMU quits at once (no ACPI shutdown: a disk-less node keeps nothing). */
export async function powerOff(labRoot: string, name: string): Promise<MachineInfo> {
  const f = machineFiles(labRoot, name);
  const prev = readInfo(f);
  if (!prev && !existsSync(f.dir)) throw new VlxError('not-found', `no lab machine named ${name}`, 'see `vlx lab machines`');
  let pid = livePid(f);
  if (pid) {
    await qmpQuit(f.qmp);
    for (let i = 0; i < 50 && livePid(f); i++) await sleep(50);
    pid = livePid(f);
    if (pid) {
      process.kill(pid, 'SIGKILL');
      for (let i = 0; i < 50 && livePid(f); i++) await sleep(20);
    }
  }
  const tap = prev?.tap ?? machineTap(name);
  await runLocal('ip', ['link', 'del', tap]);
  rmSync(f.pid, { force: true });
  rmSync(f.qmp, { force: true });
  return { ...(prev ?? { name, mac: machineMac(name), tap, accel: 'tcg', serialLog: f.serial }), running: false };
}

export function listMachines(labRoot: string): MachineInfo[] {
  const dir = join(labRoot, 'machines');
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .flatMap((e) => {
      const f = machineFiles(labRoot, e.name);
      const info = readInfo(f);
      if (!info) return [];
      const pid = livePid(f);
      return [{ ...info, running: pid !== undefined, ...(pid ? { pid } : {}) }];
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** The lab dir's root, as every lab command finds it (VLX_LAB_DIR or the app's default). */
export function labRoot(): string {
  return checkLabDir(labDir());
}

function requireRoot(): void {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new VlxError('not-root', 'lab machines need root (taps on the lab bridge)', 'run it as root');
  }
}

export async function labPowerOn(name: string, mac?: string): Promise<MachineInfo> {
  checkName('node', name, 'NAME');
  requireRoot();
  return powerOn(labRoot(), name, mac);
}

export async function labPowerOff(name: string): Promise<MachineInfo> {
  checkName('node', name, 'NAME');
  requireRoot();
  return powerOff(labRoot(), name);
}

export function labMachines(): MachineInfo[] {
  return listMachines(labRoot());
}
