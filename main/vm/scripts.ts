import { sh } from '../util/quote.js';
import { checkName } from '../util/names.js';
import { checkInt } from '../util/names.js';
import { checkPath } from './qemuArgs.js';
import { routeArgv } from '../network/routes.js';

/**
 * Shell scripts the VC workflows send to a node, one SSH round trip each. Pure: every
 * word that comes from data goes through sh()/quote(), every name was checked before it
 * became part of a path. Each script is idempotent, so a workflow re-run after a kill
 * sends the same script again and only the missing work is done.
 *
 * The scripts are fed to `sh -e` on stdin (no command-line length limit for 64-VM VCs).
 */

export interface OverlayBatch {
  /** vc/<vc> on shared storage. */
  vcDir: string;
  shared: string;
  image: string;
  diskGb: number;
  /** 0: no swap volume. */
  swapMb: number;
  vms: { name: string; disk: string; swap: string }[];
}

/**
 * Creates every missing overlay of a VC in one go. A qcow2 overlay holds no per-file
 * identity (no UUID; the backing path is absolute and the same for every VM), so the
 * overlays of one VC with the same size are byte-identical: qemu-img makes one, `tee`
 * writes it to all missing files in a single process. That keeps the cost per VM to one
 * small file write instead of one qemu-img process (~15 ms each on a 2-core node).
 * New files are written in a private directory and renamed into place, so a kill half-way
 * leaves either a whole overlay or none.
 */
export function renderOverlayScript(b: OverlayBatch): string {
  checkPath(b.vcDir, 'vcDir');
  checkPath(b.shared, 'shared');
  checkPath(b.image, 'image');
  const disk = checkInt(b.diskGb, 'diskGb', 1, 1 << 20);
  const swap = checkInt(b.swapMb, 'swapMb', 0, 1 << 30);
  const tmp = `${b.vcDir}/.new`;
  const lines = [
    sh('mkdir', '-p', b.vcDir, b.shared),
    sh('rm', '-rf', tmp),
    sh('mkdir', tmp),
    'disks=',
    'swaps=',
  ];
  for (const vm of b.vms) {
    checkName('vm', vm.name);
    lines.push(`[ -e ${sh(checkPath(vm.disk, 'disk'))} ] || disks="$disks "${sh(`${tmp}/${vm.name}.qcow2`)}`);
    if (swap > 0) lines.push(`[ -e ${sh(checkPath(vm.swap, 'swap'))} ] || swaps="$swaps "${sh(`${tmp}/${vm.name}.swap.qcow2`)}`);
  }
  lines.push(
    'if [ -n "$disks" ]; then',
    `  ${sh('qemu-img', 'create', '-q', '-f', 'qcow2', '-b', b.image, '-F', 'qcow2', `${tmp}/disk.tpl`, `${disk}G`)}`,
    `  tee $disks < ${sh(`${tmp}/disk.tpl`)} > /dev/null`,
    `  ${sh('rm', `${tmp}/disk.tpl`)}`,
    'fi',
    'if [ -n "$swaps" ]; then',
    `  ${sh('qemu-img', 'create', '-q', '-f', 'qcow2', `${tmp}/swap.tpl`, `${swap}M`)}`,
    `  tee $swaps < ${sh(`${tmp}/swap.tpl`)} > /dev/null`,
    `  ${sh('rm', `${tmp}/swap.tpl`)}`,
    'fi',
    // One mv for all of them: a process per file would cost as much as qemu-img per file.
    `set -- ${sh(tmp)}/*; if [ -e "$1" ]; then mv "$@" ${sh(`${b.vcDir}/`)}; fi`,
    sh('rmdir', tmp),
    // The allocated size of one overlay (all are the same) for the volumes table.
    `stat -c %s ${sh(b.vms[0]?.disk ?? b.image)}`,
  );
  return lines.join('\n') + '\n';
}

/**
 * Shell function `vlx_alive PIDFILE`: the process whose pid is in the file is alive and is the
 * one that wrote it (it was given that pid file on its command line: QEMU, NFS-Ganesha).
 */
export const ALIVE_FN = [
  'vlx_alive() {',
  '  [ -s "$1" ] || return 1',
  '  p=$(cat "$1") || return 1',
  '  [ -r "/proc/$p/cmdline" ] || return 1',
  // The pid file path is unique per daemon on a node; a reused pid belongs to another program.
  '  tr "\\000" " " < "/proc/$p/cmdline" | grep -qF -- "$1"',
  '}',
];

export interface TapSpec {
  tap: string;
  tapMac: string;
  gateway: string;
  /** The VM's address: its /32 goes to the tap at once, so the guest reaches its node while it boots. */
  ip: string;
}

/** The tap of a VM on its node: fixed MAC, the VC gateway address, proxy ARP. */
export function tapLines(t: TapSpec): string[] {
  return [
    `ip link show dev ${sh(t.tap)} > /dev/null 2>&1 || ${sh('ip', 'tuntap', 'add', 'dev', t.tap, 'mode', 'tap')}`,
    sh('ip', 'link', 'set', 'dev', t.tap, 'address', t.tapMac),
    sh('ip', 'addr', 'replace', `${t.gateway}/32`, 'dev', t.tap),
    sh('ip', 'link', 'set', 'dev', t.tap, 'up'),
    // The guest's peers are on-link for it: the node answers their ARP and routes them.
    `echo 1 > ${sh(`/proc/sys/net/ipv4/conf/${t.tap}/proxy_arp`)}`,
    // At once: Linux holds a proxied reply to a broadcast request for a random time up to
    // proxy_delay (0.8 s by default), which made VM↔VM pings take 200–500 ms (VM → outside asks
    // for the gateway, the tap's own address, and was answered at once).
    `echo 0 > ${sh(`/proc/sys/net/ipv4/neigh/${t.tap}/proxy_delay`)}`,
    // The node's own way back to the guest (its NFS server, DNS): the cluster-wide sync adds
    // the same route later, with everyone else's, once the VMs are up.
    sh(...routeArgv('replace', { dst: `${t.ip}/32`, dev: t.tap })),
  ];
}

export interface LaunchVm extends TapSpec {
  name: string;
  runDir: string;
  pidFile: string;
  qmp: string;
  serial: string;
  argv: string[];
  /** Shell run before QEMU starts (a cloud-init seed to write). */
  prepare?: string;
}

/**
 * Starts the VMs of one VC on one node. A VM whose QEMU already runs (pid file + /proc)
 * is left alone and reported as `already`, so a re-run after a kill never starts a VM twice.
 * Prints one line per VM: `started NAME` or `already NAME`.
 */
export function renderLaunchScript(vms: LaunchVm[]): string {
  const lines = [...ALIVE_FN];
  for (const vm of vms) {
    checkName('vm', vm.name);
    lines.push(
      `${sh('mkdir', '-p', vm.runDir)}`,
      `if vlx_alive ${sh(vm.pidFile)}; then echo ${sh(`already ${vm.name}`)}; else`,
      ...tapLines(vm).map((l) => `  ${l}`),
      `  ${sh('rm', '-f', vm.qmp, vm.serial, vm.pidFile)}`,
      ...(vm.prepare ? [`  ${vm.prepare}`] : []),
      `  ${sh(...vm.argv)}`,
      `  echo ${sh(`started ${vm.name}`)}`,
      'fi',
    );
  }
  return lines.join('\n') + '\n';
}

/** Only the taps (the migration target needs its tap before QEMU listens). */
export function renderTapScript(taps: TapSpec[]): string {
  return taps.flatMap(tapLines).join('\n') + '\n';
}

export interface HaltVm {
  name: string;
  pidFile: string;
  qmp: string;
  serial: string;
  tap: string;
  /** The observers' QMP socket, if the VM has one. */
  watch?: string;
}

/**
 * Hard stop: SIGKILL the QEMU if it still runs, then remove its control files and its tap.
 * Prints `killed NAME` for each VM that was running.
 */
export function renderHaltScript(vms: HaltVm[], opts: { keepTap?: boolean } = {}): string {
  const lines = [...ALIVE_FN];
  for (const vm of vms) {
    checkName('vm', vm.name);
    lines.push(
      `if vlx_alive ${sh(vm.pidFile)}; then kill -9 "$(cat ${sh(vm.pidFile)})"; echo ${sh(`killed ${vm.name}`)};`,
      // SIGKILL is delivered at once but the process lingers until the kernel reaps it.
      `  i=0; while vlx_alive ${sh(vm.pidFile)} && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done; fi`,
      sh('rm', '-f', vm.pidFile, vm.qmp, vm.serial, ...(vm.watch ? [vm.watch] : [])),
    );
    if (!opts.keepTap) lines.push(`ip link show dev ${sh(vm.tap)} > /dev/null 2>&1 && ${sh('ip', 'link', 'del', 'dev', vm.tap)} || true`);
  }
  return lines.join('\n') + '\n';
}

/**
 * Lists the VMs whose QEMU runs on this node (any VC), from the pid files under the
 * node's runtime directory: one line `VC VM PID` each. What is, as opposed to the DB.
 */
export function renderScanScript(runRoot: string): string {
  checkPath(runRoot, 'runRoot');
  return [
    ...ALIVE_FN,
    `for f in ${sh(`${runRoot}/vm`)}/*/*.pid; do`,
    '  [ -e "$f" ] || continue',
    '  vm=$(basename "$f" .pid); vc=$(basename "$(dirname "$f")")',
    '  if vlx_alive "$f"; then echo "$vc $vm $(cat "$f")"; fi',
    'done',
  ].join('\n') + '\n';
}

export function parseScan(stdout: string): { vc: string; vm: string; pid: number }[] {
  const out: { vc: string; vm: string; pid: number }[] = [];
  for (const line of stdout.split('\n')) {
    const m = /^([a-z][a-z0-9-]*) ([a-z][a-z0-9-]*) (\d+)$/.exec(line.trim());
    if (m) out.push({ vc: m[1], vm: m[2], pid: Number(m[3]) });
  }
  return out;
}

/** Wait (bounded, on the node) until a pid file's QEMU has gone; prints `gone` or `alive`. */
export function renderWaitGoneScript(pidFile: string, seconds: number): string {
  const tenths = checkInt(seconds, 'timeout', 0, 3600) * 10;
  return [
    ...ALIVE_FN,
    `i=0; while vlx_alive ${sh(pidFile)} && [ $i -lt ${tenths} ]; do sleep 0.1; i=$((i+1)); done`,
    `if vlx_alive ${sh(pidFile)}; then echo alive; else echo gone; fi`,
  ].join('\n') + '\n';
}
