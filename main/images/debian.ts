import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { VlxError } from '../errors.js';
import { checkName } from '../util/names.js';
import { sh } from '../util/quote.js';
import { READY_MARKER } from '../vm/serial.js';
import { resolveCached, resolveKernel } from './debs.js';
import { localRunner } from './local.js';
import { cacheRoot, type BuildOptions, type BuiltImage } from './tiny.js';
import { ImageMetaSchema, imagePaths, type ImageMeta } from './types.js';

/**
 * A real Debian 12 guest: debootstrap (minbase) on the workstation, the cloud kernel,
 * sshd, dbus (without logind, ACPI power-off is ignored), systemd and cloud-init reading a
 * per-VM NoCloud seed (network, hostname, new host keys). The root file system is made
 * with `mkfs.ext4 -d` from the tree and converted to qcow2: no loop device, no
 * device-mapper. VMs boot the extracted kernel and initrd with root=/dev/vda.
 */
const DEBIAN_FORMAT = 2;
const SUITE = 'bookworm';
export const DEBIAN_PACKAGES = [
  'linux-image-cloud-amd64', 'initramfs-tools', 'systemd-sysv', 'udev', 'dbus', 'openssh-server', 'cloud-init',
  // net-tools: cloud-init's ifupdown rendering adds the default route with `route`.
  'ifupdown', 'net-tools', 'iproute2', 'iputils-ping', 'procps', 'e2fsprogs', 'nfs-common', 'netbase', 'less',
  // debootstrap does not resolve virtual packages: python3-cryptography (cloud-init) needs
  // python3-cffi-backend-api-*, which only this package provides.
  'python3-cffi-backend',
];
export const DEBIAN_CMDLINE = 'root=/dev/vda rw console=ttyS0 net.ifnames=0 quiet';

/** What differs between Debian images built here: the VC guest (debian-12) and the disk-less node original. */
export interface DebianProfile {
  defaultName: string;
  packages: string[];
  /** The kernel metapackage among `packages` (its versioned kernel goes into the cache key). */
  kernelPackage: string;
  cmdline: string;
  rootDevice: string;
  seed?: 'nocloud';
  files: Record<string, string>;
  /** Files that must be executable. */
  executables: string[];
  units: string[];
  /** Units masked in the image (they would only slow its boot). */
  masked?: string[];
  /** The initrd is rebuilt after the files are written (initramfs hooks and scripts among them). */
  rebuildInitrd: boolean;
}

/** Kept out of the unit file: systemd would expand the $ signs itself. */
const READY_SCRIPT = `#!/bin/sh
addr=$(ip -4 -o addr show scope global | awk '{print $4}' | cut -d/ -f1 | head -n 1)
echo "${READY_MARKER} $(hostname) \${addr:-none}" > /dev/ttyS0
`;

const FILES: Record<string, string> = {
  'usr/local/sbin/vlx-ready': READY_SCRIPT,
  'etc/fstab': '/dev/vda / ext4 defaults,errors=remount-ro 0 1\n',
  'etc/cloud/cloud.cfg.d/90-vlx.cfg': [
    '# Only the per-VM seed: probing network metadata services would stall each boot.',
    'datasource_list: [ NoCloud, None ]',
    '# No locales package in the image: the locale module would only fail.',
    'locale: false',
    'disable_root: false',
    '',
  ].join('\n'),
  // A root shell on the serial console: reaching it already needs root on the node.
  'etc/systemd/system/serial-getty@ttyS0.service.d/autologin.conf': [
    '[Service]',
    'ExecStart=',
    'ExecStart=-/sbin/agetty --autologin root --keep-baud 115200,57600,38400,9600 %I $TERM',
    '',
  ].join('\n'),
  // Without a seed cloud-init makes no keys, and sshd refuses to start without any.
  'etc/systemd/system/vlx-hostkeys.service': [
    '[Unit]',
    'Description=Generate sshd host keys missing from this VM',
    'Before=ssh.service',
    'ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key',
    '[Service]',
    'Type=oneshot',
    'ExecStart=/usr/bin/ssh-keygen -A',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n'),
  'etc/systemd/system/vlx-ready.service': [
    '[Unit]',
    'Description=Tell the manager on the serial console that this VM is up',
    // After cloud-init's last stage (keys, fstab mounts) and the NFS share. cloud-final runs
    // after multi-user.target, so this hangs off cloud-init.target (also after it): wanted by
    // multi-user.target it made an ordering cycle and systemd dropped it.
    'After=cloud-final.service ssh.service network-online.target remote-fs.target',
    'Wants=network-online.target',
    '[Service]',
    'Type=oneshot',
    'ExecStart=/usr/local/sbin/vlx-ready',
    '[Install]',
    'WantedBy=cloud-init.target',
    '',
  ].join('\n'),
};

export const DEBIAN_12: DebianProfile = {
  defaultName: 'debian-12',
  packages: DEBIAN_PACKAGES,
  kernelPackage: 'linux-image-cloud-amd64',
  cmdline: DEBIAN_CMDLINE,
  rootDevice: '/dev/vda',
  seed: 'nocloud',
  files: FILES,
  executables: ['usr/local/sbin/vlx-ready'],
  units: ['vlx-hostkeys.service', 'vlx-ready.service'],
  rebuildInitrd: false,
};

function readMeta(file: string): ImageMeta | undefined {
  try {
    return ImageMetaSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
  } catch {
    return undefined;
  }
}

function debianMirror(): string {
  for (const f of ['/etc/apt/sources.list', ...(existsSync('/etc/apt/sources.list.d') ? readdirSync('/etc/apt/sources.list.d').map((n) => `/etc/apt/sources.list.d/${n}`) : [])]) {
    try {
      const m = readFileSync(f, 'utf8').match(/(https?:\/\/[^\s]+\/debian)\/?(\s|$)/m);
      if (m) return m[1];
    } catch {
      // unreadable source list: try the next
    }
  }
  return 'http://deb.debian.org/debian';
}

export async function buildDebian(opts: BuildOptions = {}, profile: DebianProfile = DEBIAN_12): Promise<BuiltImage> {
  const name = checkName('image', opts.name ?? profile.defaultName, 'name');
  const run = opts.run ?? localRunner();
  const log = opts.log ?? (() => undefined);
  const cache = opts.cacheDir ?? cacheRoot();
  const outDir = join(cache, 'images', name);
  const files = imagePaths(name, outDir);
  const mirror = debianMirror();

  const kernelKey = profile.kernelPackage === DEBIAN_12.kernelPackage ? 'debian-kernel' : `debian-kernel:${profile.kernelPackage}`;
  const kernel = await resolveCached(run, cache, kernelKey, () => resolveKernel(run, profile.kernelPackage));
  // The VC guest's hash keeps its historical shape, so existing caches stay valid.
  const hashed = profile === DEBIAN_12
    ? { DEBIAN_FORMAT, SUITE, DEBIAN_PACKAGES, DEBIAN_CMDLINE, FILES, kernel: `${kernel.name}=${kernel.version}` }
    : { DEBIAN_FORMAT, SUITE, profile, kernel: `${kernel.name}=${kernel.version}` };
  const inputs = createHash('sha256').update(JSON.stringify(hashed)).digest('hex');
  const cached = readMeta(files.json);
  if (cached && cached.inputs === inputs && [files.kernel, files.initrd, files.qcow2].every((f) => existsSync(f))) {
    log('cached build is up to date');
    return { meta: cached, files, rebuilt: false };
  }
  const missing = (await run.exec('command -v debootstrap mkfs.ext4 qemu-img >/dev/null')).code !== 0;
  if (missing) throw new VlxError('missing-tool', 'building the Debian image needs debootstrap, mkfs.ext4 and qemu-img on this workstation', 'apt-get install debootstrap e2fsprogs qemu-utils');

  mkdirSync(outDir, { recursive: true });
  const root = join(outDir, 'rootfs');
  const debootstrapCache = join(cache, 'debootstrap');
  mkdirSync(debootstrapCache, { recursive: true });
  rmSync(root, { recursive: true, force: true });
  log(`debootstrap ${SUITE} from ${mirror} (a minute or two)`);
  // --cache-dir keeps the .debs, so a rebuild after a config change does not download again.
  await run.run(
    sh('debootstrap', '--variant=minbase', `--include=${profile.packages.join(',')}`, `--cache-dir=${debootstrapCache}`, SUITE, root, mirror),
    { timeoutMs: 1_800_000, onStdout: (c) => { const l = c.trim().split('\n').pop(); if (l) log(l.slice(0, 100)); } },
  );

  log('configuring');
  for (const [rel, body] of Object.entries(profile.files)) {
    mkdirSync(join(root, rel, '..'), { recursive: true });
    writeFileSync(join(root, rel), body);
  }
  await run.run([
    sh('chmod', '0755', ...profile.executables.map((f) => join(root, f))),
    sh('chroot', root, 'systemctl', 'enable', ...profile.units),
    ...(profile.masked?.length ? [sh('chroot', root, 'systemctl', 'mask', ...profile.masked)] : []),
    ...(profile.rebuildInitrd ? [sh('chroot', root, 'update-initramfs', '-u', '-k', 'all')] : []),
    // Each VM gets its own identity: no host keys, no machine-id in the template.
    `rm -f ${sh(root)}/etc/ssh/ssh_host_*`,
    `: > ${sh(join(root, 'etc/machine-id'))}`,
    `rm -f ${sh(join(root, 'var/lib/dbus/machine-id'))}`,
    `echo localhost > ${sh(join(root, 'etc/hostname'))}`,
    `rm -rf ${sh(root)}/var/cache/apt/archives/*.deb ${sh(root)}/var/lib/apt/lists/* ${sh(root)}/var/log/*.log`,
  ].join(' && '));

  const boot = join(root, 'boot');
  const vmlinuz = readdirSync(boot).find((f) => f === `vmlinuz-${kernel.kernelRelease}`) ?? readdirSync(boot).find((f) => f.startsWith('vmlinuz-'));
  const initrd = vmlinuz && readdirSync(boot).find((f) => f === vmlinuz.replace('vmlinuz-', 'initrd.img-'));
  if (!vmlinuz || !initrd) throw new VlxError('internal', `the Debian tree has no kernel and initrd in /boot (found: ${readdirSync(boot).join(', ')})`);

  log('making the root file system');
  const usedMb = Number((await run.run(sh('du', '-sm', root))).split(/\s/)[0]);
  const sizeMb = Math.max(1024, Math.ceil((usedMb * 1.5) / 256) * 256);
  const raw = join(outDir, `${name}.raw`);
  const tmp = (f: string): string => `${f}.tmp`;
  await run.run([
    `rm -f ${sh(raw)} ${sh(tmp(files.qcow2))}`,
    sh('cp', join(boot, vmlinuz), tmp(files.kernel)),
    sh('cp', join(boot, initrd), tmp(files.initrd)),
    sh('mkfs.ext4', '-q', '-F', '-L', 'root', '-d', root, raw, `${sizeMb}M`),
    sh('qemu-img', 'convert', '-O', 'qcow2', raw, tmp(files.qcow2)),
    sh('rm', '-f', raw),
  ].join(' && '), { timeoutMs: 900_000 });

  const meta: ImageMeta = {
    name,
    kind: 'kernel',
    guest: 'debian',
    cmdline: profile.cmdline,
    ...(profile.seed ? { seed: profile.seed } : {}),
    rootDevice: profile.rootDevice,
    createdAt: new Date().toISOString(),
    sizes: {
      kernel: statSync(tmp(files.kernel)).size,
      initrd: statSync(tmp(files.initrd)).size,
      qcow2: statSync(tmp(files.qcow2)).size,
      qcow2Virtual: sizeMb * 1024 * 1024,
    },
    inputs,
    kernelRelease: vmlinuz.replace('vmlinuz-', ''),
  };
  for (const f of [files.kernel, files.initrd, files.qcow2]) renameSync(tmp(f), f);
  writeFileSync(files.json, JSON.stringify(meta, null, 2) + '\n');
  rmSync(root, { recursive: true, force: true });
  log(`built ${name}: root ${(meta.sizes.qcow2 / 1048576).toFixed(0)} MiB`);
  return { meta, files, rebuilt: true };
}
