import { BOOT_PARAMS, END_MARK, nodeBootLine } from './bootLine.js';
import type { InstallPlan, PlannedNode } from './installConfig.js';

/**
 * What the install puts in the TFTP root (<shared>/tftp, served by dnsmasq on every serving
 * node) so a disk-less node boots: pure names and texts.
 *
 *   boot.ipxe                      the DHCP boot file: chains the entry named after the MAC
 *   nodes/<mac with ->.ipxe        one entry per node: kernel + boot line, initrd, config
 *   <container>/vmlinuz            kernel of the base image
 *   <container>/initrd.img         its initrd (mounts the root from NBD, see domain/bootLine)
 *   <container>/node<N>.cpio       the node's configuration, a second initrd (see nodeConfig)
 */
export const INSTALL_BOOT_FILE = 'boot.ipxe';

export interface TftpLayout {
  bootScript: string;
  kernel: string;
  initrd: string;
  nodeConfig(ordinal: number): string;
  nodeEntry(mac: string): string;
}

export function tftpLayout(container: string): TftpLayout {
  return {
    bootScript: INSTALL_BOOT_FILE,
    kernel: `${container}/vmlinuz`,
    initrd: `${container}/initrd.img`,
    nodeConfig: (n) => `${container}/node${n}.cpio`,
    nodeEntry: (mac) => `nodes/${mac.toLowerCase().replace(/:/g, '-')}.ipxe`,
  };
}

const HEADER = '# written by vlx install; edits are overwritten';

/** iPXE expands ${mac:hexhyp} itself: one file serves every node, and an unknown machine drops to a shell. */
export function renderBootScript(): string {
  return ['#!ipxe', HEADER, 'chain nodes/${mac:hexhyp}.ipxe || shell', ''].join('\n');
}

/**
 * Kernel arguments before the boot parameters: the image's own (its metadata's cmdline, less
 * any boot parameter such as root=), else a serial console; then the MAC the node booted from.
 */
export function nodeKernelArgs(n: PlannedNode, imageCmdline?: string): string[] {
  const own = (imageCmdline ?? 'console=ttyS0').split(/\s+/).filter((w) => w && w !== END_MARK && !w.startsWith('BOOTIF=')
    && !(BOOT_PARAMS as readonly string[]).includes(w.split('=')[0]!) && /^[!-~]+$/.test(w));
  return [...own, `BOOTIF=01-${n.mac.replace(/:/g, '-')}`];
}

export function nodeBootLineFor(plan: InstallPlan, n: PlannedNode, imageCmdline?: string): string {
  const net = plan.config.network;
  return nodeBootLine({
    container: plan.config.container,
    node: n.ordinal,
    storageIp: plan.storageIp,
    ...(net.interface ? { iface: net.interface } : {}),
    ip: n.storageIp,
    netmask: plan.storageNetmask,
    modules: net.modules,
    kernelArgs: nodeKernelArgs(n, imageCmdline),
  });
}

/** Paths are relative to the entry's own URL (the TFTP root), so any serving node answers them. */
export function renderNodeEntry(plan: InstallPlan, n: PlannedNode, imageCmdline?: string): string {
  const t = tftpLayout(plan.config.container);
  return [
    '#!ipxe',
    `# ${n.hostname} (node ${n.ordinal} of ${plan.config.container}) ${HEADER.slice(2)}`,
    `kernel /${t.kernel} ${nodeBootLineFor(plan, n, imageCmdline)}`,
    `initrd /${t.initrd}`,
    `initrd /${t.nodeConfig(n.ordinal)}`,
    'boot',
    '',
  ].join('\n');
}
