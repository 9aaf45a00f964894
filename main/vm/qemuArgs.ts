import { invalid } from '../errors.js';
import { checkInt, checkName } from '../util/names.js';

/** What the KVM probe decided for a node: hardware virtualization with the host CPU, or emulation. */
export type AccelArgs = { accel: 'kvm'; cpu: 'host' } | { accel: 'tcg'; cpu: 'qemu64' };

export const KVM_ACCEL: AccelArgs = { accel: 'kvm', cpu: 'host' };
export const TCG_ACCEL: AccelArgs = { accel: 'tcg', cpu: 'qemu64' };

export interface VmDisk {
  path: string;
  format: 'qcow2' | 'raw';
  readOnly?: boolean;
}

export type VmBoot =
  | { kind: 'kernel'; kernel: string; initrd: string; append: string }
  | { kind: 'disk' };

export type VmIncoming = { kind: 'file'; path: string } | { kind: 'tcp'; host: string; port: number } | { kind: 'defer' };

export interface VmSpec {
  /** Used for QEMU's -name and the socket names; a VM name (checked). */
  name: string;
  /** Node-local directory for the pid file and the QMP and serial sockets. */
  runDir: string;
  /** Distinguishes the sockets of a migration target from the source's on the same node. */
  instance?: string;
  accel: AccelArgs;
  /** 'pc' when absent; 'microvm' needs a kernel boot (main/vm/machine.ts chooses). */
  machine?: 'pc' | 'microvm';
  memMb: number;
  vcpus: number;
  boot: VmBoot;
  /** In guest order: vda (root), vdb (swap), … */
  disks: VmDisk[];
  /**
   * A tap made by the caller; the MAC stays the same wherever the VM runs (see LAB-NOTES).
   * tap null: the NIC is there but linked to nothing (a warm-start template, whose link stays down).
   */
  nic: { tap: string | null; mac: string } | null;
  incoming?: VmIncoming;
  /** Start paused (-S); used by tests and by restore when the caller wants to inspect first. */
  paused?: boolean;
  /**
   * A second QMP monitor (`<name>.watch`) for observers that must not wait behind the
   * workflow's own connection (QEMU serves one client per monitor at a time): status
   * probes, the crash tests' sampler.
   */
  watch?: boolean;
}

export interface QemuCommand {
  argv: string[];
  pidFile: string;
  qmpSocket: string;
  serialSocket: string;
}

/**
 * Paths land inside QEMU option strings where ',' is a separator and in a unix socket
 * address limited to 107 bytes, so only a plain character set is accepted.
 */
const PATH_RE = /^\/[A-Za-z0-9._/+@-]*$/;
const SOCKET_PATH_MAX = 107;
const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
const TAP_RE = /^[a-z][a-z0-9-]{0,14}$/;
/** The kernel command line must not break out of QEMU's -append value: no control characters, and at most the kernel's limit. */
const APPEND_RE = /^[\x20-\x7e]*$/;
const APPEND_MAX = 2048;

export function checkPath(value: unknown, field: string): string {
  if (typeof value !== 'string' || !PATH_RE.test(value) || value.includes('..') || value.length > 4096) {
    throw invalid(field, 'must be an absolute path of letters, digits and "._/+@-" without ".."', value);
  }
  return value;
}

export function checkMac(value: unknown, field = 'mac'): string {
  if (typeof value !== 'string' || !MAC_RE.test(value)) throw invalid(field, 'must be six lowercase hex pairs separated by ":"', value);
  // A multicast MAC on a NIC makes the guest's frames undeliverable: bit 0 of the first octet must be clear.
  if ((parseInt(value.slice(0, 2), 16) & 1) === 1) throw invalid(field, 'must be a unicast address (first octet even)', value);
  return value;
}

export function checkTap(value: unknown, field = 'tap'): string {
  if (typeof value !== 'string' || !TAP_RE.test(value)) {
    throw invalid(field, 'must be 1-15 chars: a lowercase letter, then lowercase letters, digits or "-"', value);
  }
  return value;
}

function socketPath(dir: string, file: string, field: string): string {
  const p = `${dir.replace(/\/+$/, '')}/${file}`;
  if (Buffer.byteLength(p) > SOCKET_PATH_MAX) throw invalid(field, `socket path must be at most ${SOCKET_PATH_MAX} bytes`, p);
  return p;
}

/** Where a VM's control files live: stable names so any workstation can find a running VM. */
export function vmRunFiles(runDir: string, name: string, instance?: string): { pidFile: string; qmpSocket: string; serialSocket: string } {
  checkPath(runDir, 'runDir');
  checkName('vm', name);
  if (instance !== undefined && !/^[a-z0-9]{1,8}$/.test(instance)) throw invalid('instance', 'must be 1-8 lowercase letters or digits', instance);
  const base = instance ? `${name}.${instance}` : name;
  return {
    pidFile: `${runDir.replace(/\/+$/, '')}/${base}.pid`,
    qmpSocket: socketPath(runDir, `${base}.qmp`, 'runDir'),
    serialSocket: socketPath(runDir, `${base}.serial`, 'runDir'),
  };
}

/** The observers' QMP socket next to a VM's main one. */
export function watchSocket(qmpSocket: string): string {
  return qmpSocket.replace(/\.qmp$/, '.watch');
}

function incomingUri(inc: VmIncoming): string {
  switch (inc.kind) {
    // QEMU 7.2 has no file: migration URI; the exec: command is run by /bin/sh, and the
    // path was restricted to a character set that needs no quoting.
    case 'file':
      return `exec:cat ${checkPath(inc.path, 'incoming.path')}`;
    case 'tcp': {
      const host = inc.host;
      if (!/^(\d{1,3}\.){3}\d{1,3}$/.test(host) && host !== '[::]') throw invalid('incoming.host', 'must be an IPv4 address', host);
      return `tcp:${host}:${checkInt(inc.port, 'incoming.port', 1, 65535)}`;
    }
    case 'defer':
      return 'defer';
  }
}

/** The argv of a daemonized QEMU for one VM. Pure: every input is validated, nothing runs. */
export function qemuArgs(spec: VmSpec, binary = 'qemu-system-x86_64'): QemuCommand {
  const name = checkName('vm', spec.name);
  const files = vmRunFiles(spec.runDir, name, spec.instance);
  const mem = checkInt(spec.memMb, 'memMb', 16, 1024 * 1024);
  const cpus = checkInt(spec.vcpus, 'vcpus', 1, 256);
  if (spec.accel.accel !== 'kvm' && spec.accel.accel !== 'tcg') throw invalid('accel', 'must be kvm or tcg', spec.accel);
  const machine = spec.machine ?? 'pc';
  if (machine !== 'pc' && machine !== 'microvm') throw invalid('machine', 'must be pc or microvm', machine);
  // microvm has no firmware that boots a disk: its guests are always started from a kernel.
  if (machine === 'microvm' && spec.boot.kind !== 'kernel') throw invalid('machine', 'microvm needs a kernel boot (boot.kind "kernel")', spec.boot.kind);
  // microvm's virtio devices sit on MMIO slots, pc's on the PCI bus.
  const virtio = machine === 'microvm' ? 'device' : 'pci';

  const argv = [
    binary,
    '-name', `${name},process=qemu-${name}`,
    '-daemonize',
    '-pidfile', files.pidFile,
    '-qmp', `unix:${files.qmpSocket},server=on,wait=off`,
    '-serial', `unix:${files.serialSocket},server=on,wait=off`,
    '-display', 'none',
    '-nodefaults',
    '-machine', `${machine},accel=${spec.accel.accel}`,
    '-cpu', spec.accel.cpu,
    '-m', String(mem),
    '-smp', String(cpus),
  ];

  if (spec.boot.kind === 'kernel') {
    const append = spec.boot.append;
    if (typeof append !== 'string' || !APPEND_RE.test(append) || append.length > APPEND_MAX) {
      throw invalid('boot.append', `must be printable ASCII, at most ${APPEND_MAX} chars`, append);
    }
    argv.push('-kernel', checkPath(spec.boot.kernel, 'boot.kernel'), '-initrd', checkPath(spec.boot.initrd, 'boot.initrd'), '-append', append);
  }

  spec.disks.forEach((d, i) => {
    const field = `disks[${i}]`;
    if (d.format !== 'qcow2' && d.format !== 'raw') throw invalid(`${field}.format`, 'must be qcow2 or raw', d.format);
    const id = `disk${i}`;
    // cache=none would need O_DIRECT on the shared file system; writeback keeps the page
    // cache but QEMU flushes it before migration completes, so live migration stays safe.
    argv.push('-blockdev', `driver=file,node-name=${id}f,filename=${checkPath(d.path, `${field}.path`)}${d.readOnly ? ',read-only=on' : ''}`);
    argv.push('-blockdev', `driver=${d.format},node-name=${id},file=${id}f${d.readOnly ? ',read-only=on' : ''}`);
    argv.push('-device', `virtio-blk-${virtio},drive=${id},id=${id}dev${i === 0 && spec.boot.kind === 'disk' ? ',bootindex=0' : ''}`);
  });

  if (spec.nic) {
    const mac = checkMac(spec.nic.mac, 'nic.mac');
    // A hub port with nothing else on the hub: the device exists (its state is part of a saved
    // guest), no frame goes anywhere.
    const netdev = spec.nic.tap === null ? 'hubport,id=net0,hubid=0' : `tap,id=net0,ifname=${checkTap(spec.nic.tap, 'nic.tap')},script=no,downscript=no`;
    argv.push('-netdev', netdev, '-device', `virtio-net-${virtio},netdev=net0,mac=${mac}`);
  }

  if (spec.incoming) argv.push('-incoming', incomingUri(spec.incoming));
  if (spec.paused) argv.push('-S');
  if (spec.watch) argv.push('-qmp', `unix:${watchSocket(files.qmpSocket)},server=on,wait=off`);
  return { argv, ...files };
}
