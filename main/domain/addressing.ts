import { posix } from 'node:path';
import { invalid } from '../errors.js';
import { NODE_RUN } from './nodePaths.js';
import { checkInt, checkName } from '../util/names.js';
import { intToIp, ipToInt, parseCidr, vmCapacity } from './subnet.js';

/**
 * Everything a VM's identity on the network and on its node derives from: its VC, its
 * VC's subnet and its index (1-based).
 *
 * Decisions:
 * - The first host of the subnet (.1 of a /24) is the VC's gateway address: every node
 *   puts it on each tap it hosts for the VC, so the guest's default route is the same
 *   wherever the VM runs. VM i gets the address base + 1 + i, so vm1 is .2.
 * - VMs are named vm1..vmN, unpadded: the VC name is already in every path and the DB key.
 * - MACs are derived from the VM's IPv4 address, which is unique in the cluster because VC
 *   subnets never overlap: guest NIC 0a:00:<ip bytes>, host tap 0a:01:<ip bytes>. 0x0a
 *   has the locally-administered bit set and the multicast bit clear, and differs from
 *   QEMU's 52:54:00 default. The tap MAC is the same on every node, so after a live
 *   migration the guest's cached ARP entry for its gateway stays valid.
 * - Tap names are `vt` + the address in hex (10 chars, under IFNAMSIZ's 15): unique on
 *   any node for the same reason, stable across migration, and free of hash collisions.
 */
export interface VmAddress {
  index: number;
  name: string;
  ip: string;
  /** Prefix length of the VC subnet, for the guest's interface address. */
  prefix: number;
  gateway: string;
  mac: string;
  tap: string;
  tapMac: string;
}

export interface VmRuntimePaths {
  dir: string;
  qmp: string;
  serial: string;
  pid: string;
}

/** Linux's sun_path holds 108 bytes including the terminating NUL. */
export const UNIX_SOCKET_PATH_MAX = 107;

const VM_NAME = /^vm([1-9]\d{0,3})$/;

export function vmName(index: number): string {
  return `vm${checkInt(index, 'VM index', 1, 9999)}`;
}

/** The index of a VM named vmN; invalid-input for any other name. */
export function vmIndex(name: string): number {
  const m = VM_NAME.exec(name);
  if (!m) throw invalid('VM name', 'must be vm followed by its index, like vm3', name);
  return Number(m[1]);
}

export function gatewayIp(subnet: string): string {
  return intToIp(parseCidr(subnet).base + 1);
}

export function vmIp(subnet: string, index: number): string {
  const c = parseCidr(subnet);
  checkInt(index, 'VM index', 1, vmCapacity(c.prefix));
  return intToIp(c.base + 1 + index);
}

function macFromIp(first: number, second: number, ip: string): string {
  const n = ipToInt(ip);
  return [first, second, n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]
    .map((b) => b.toString(16).padStart(2, '0'))
    .join(':');
}

export function vmMac(ip: string): string {
  return macFromIp(0x0a, 0x00, ip);
}

export function tapMac(ip: string): string {
  return macFromIp(0x0a, 0x01, ip);
}

export function tapName(ip: string): string {
  return `vt${ipToInt(ip).toString(16).padStart(8, '0')}`;
}

export function vmAddress(vc: string, subnet: string, index: number): VmAddress {
  checkName('vc', vc, 'VC name');
  const ip = vmIp(subnet, index);
  return {
    index,
    name: vmName(index),
    ip,
    prefix: parseCidr(subnet).prefix,
    gateway: gatewayIp(subnet),
    mac: vmMac(ip),
    tap: tapName(ip),
    tapMac: tapMac(ip),
  };
}

/** Addresses of vm1..vmCount of a VC. */
export function vcAddresses(vc: string, subnet: string, count: number): VmAddress[] {
  const cap = vmCapacity(parseCidr(subnet).prefix);
  checkInt(count, 'VM count', 1, cap);
  return Array.from({ length: count }, (_, i) => vmAddress(vc, subnet, i + 1));
}

/**
 * QMP, serial and pid files of a VM on the node that runs it. The directory is node-private
 * (/run/virtualinux), so a migration target uses the same names as the source.
 */
export function vmRuntimePaths(vc: string, vm: string, runDir: string = NODE_RUN): VmRuntimePaths {
  checkName('vc', vc, 'VC name');
  checkName('vm', vm, 'VM name');
  const dir = posix.join(runDir, 'vm', vc);
  const paths = {
    dir,
    qmp: posix.join(dir, `${vm}.qmp`),
    serial: posix.join(dir, `${vm}.serial`),
    pid: posix.join(dir, `${vm}.pid`),
  };
  if (Buffer.byteLength(paths.serial) > UNIX_SOCKET_PATH_MAX) {
    throw invalid('runtime directory', `makes socket paths longer than ${UNIX_SOCKET_PATH_MAX} bytes`, runDir);
  }
  return paths;
}
