import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { appHome } from '../config/paths.js';
import { VlxError } from '../errors.js';
import { checkName } from '../util/names.js';
import { sh } from '../util/quote.js';
import { cpioNewc, gzipReproducible, type CpioEntry } from './cpio.js';
import { candidate, fetchDeb, resolveCached, resolveCloudKernel, unpackDeb } from './debs.js';
import { localRunner, type CommandRunner } from './local.js';
import { moduleClosure, parseModulesDep } from './modules.js';
import { extractPvhKernel } from './vmlinux.js';
import { stripModuleSignature } from './moduleSig.js';
import { renderTinyInit, TINY_ACPI_POWER, TINY_INITTAB, TINY_PROFILE } from './tinyInit.js';
import { ImageMetaSchema, imagePaths, type ImageMeta, type ImagePaths } from './types.js';

/** Bump when the layout of the built image changes in a way the inputs do not show. */
const TINY_FORMAT = 5;
/**
 * virtio_pci and virtio_mmio are the transports (the pc machine's PCI, microvm's MMIO): no
 * driver depends on them, yet without one no virtio device appears.
 */
export const TINY_BOOT_MODULES = ['virtio_pci', 'virtio_mmio', 'failover', 'net_failover', 'virtio_net', 'virtio_blk', 'button', 'evdev'];
export const TINY_NFS_MODULES = ['nfsv3'];
/**
 * Besides the console: the guest boots under TCG on small nodes, where every initcall is
 * emulated, so work a busybox guest never uses is skipped. The crypto self-tests and the
 * kprobe-events and KDF self-tests (initcall_blacklist) are tests of the kernel itself; the
 * built-in X.509 certificates only verify module signatures, which this image strips, and the
 * block tracer serves blktrace;
 * tsc=reliable and no_timer_check drop the clocksource watchdog and the timer-IRQ check,
 * which under a loaded emulator can wrongly mark the TSC unstable and stall the boot.
 */
export const TINY_CMDLINE = 'console=ttyS0 quiet cryptomgr.notests initcall_blacklist=init_kprobe_trace,crypto_kdf108_init,load_system_certificate_list,init_blk_tracer tsc=reliable no_timer_check';
const TINY_DISK = '1G';

export function cacheRoot(): string {
  return join(appHome(), 'cache');
}

export interface BuiltImage {
  meta: ImageMeta;
  files: ImagePaths;
  /** False when the cached build already matched the inputs. */
  rebuilt: boolean;
}

export interface BuildOptions {
  name?: string;
  cacheDir?: string;
  run?: CommandRunner;
  log?: (line: string) => void;
  /**
   * What a variant of the tiny guest adds (the bench image, images/bench.ts): files, modules, and
   * a key of them for the cache (which must cover `compress`). compress: gzip the initramfs, for
   * a variant too large to sit in a 128 MB guest twice while the kernel unpacks it.
   */
  extra?: { entries: CpioEntry[]; modules: string[]; key: string; compress?: boolean };
}

function readMeta(file: string): ImageMeta | undefined {
  try {
    return ImageMetaSchema.parse(JSON.parse(readFileSync(file, 'utf8')));
  } catch {
    return undefined;
  }
}

/**
 * Build the busybox guest on the workstation. Everything is cached by input: the .debs by
 * version, the unpacked trees per .deb, the built files by a hash of all inputs.
 */
export async function buildTiny(opts: BuildOptions = {}): Promise<BuiltImage> {
  const name = checkName('image', opts.name ?? 'tiny', 'name');
  const run = opts.run ?? localRunner();
  const log = opts.log ?? (() => undefined);
  const cache = opts.cacheDir ?? cacheRoot();
  const outDir = join(cache, 'images', name);
  const files = imagePaths(name, outDir);

  log('resolving packages');
  const { kernel, busybox } = await resolveCached(run, cache, 'tiny', async () => ({
    kernel: await resolveCloudKernel(run),
    busybox: await candidate(run, 'busybox-static'),
  }));
  log(`fetching ${kernel.name} ${kernel.version}, busybox-static ${busybox.version}`);
  const [kdeb, bdeb] = await Promise.all([fetchDeb(run, kernel, cache), fetchDeb(run, busybox, cache)]);
  const [ktree, btree] = await Promise.all([unpackDeb(run, kdeb, cache), unpackDeb(run, bdeb, cache)]);

  const relDir = join(ktree, 'lib', 'modules', kernel.kernelRelease);
  if (!existsSync(join(relDir, 'modules.dep'))) {
    await run.run(sh('depmod', '-b', ktree, kernel.kernelRelease));
  }
  const deps = parseModulesDep(readFileSync(join(relDir, 'modules.dep'), 'utf8'));
  const boot = moduleClosure(deps, [...TINY_BOOT_MODULES, ...(opts.extra?.modules ?? [])]);
  const nfs = moduleClosure(deps, TINY_NFS_MODULES).filter((m) => !boot.includes(m));
  const flat = (p: string): string => p.split('/').pop()!;
  const init = renderTinyInit({ bootModules: boot.map(flat), nfsModules: nfs.map(flat) });

  const inputs = createHash('sha256')
    .update(JSON.stringify({ TINY_FORMAT, kdeb: kdeb.split('/').pop(), bdeb: bdeb.split('/').pop(), init, TINY_INITTAB, TINY_PROFILE, TINY_ACPI_POWER, TINY_CMDLINE, TINY_DISK, boot, nfs, extra: opts.extra?.key ?? '' }))
    .digest('hex');
  const cached = readMeta(files.json);
  if (cached && cached.inputs === inputs && [files.kernel, files.initrd, files.qcow2].every((f) => existsSync(f))) {
    log('cached build is up to date');
    return { meta: cached, files, rebuilt: false };
  }

  log('building initramfs');
  const busyboxBin = readFileSync(join(btree, 'bin', 'busybox'));
  const entries: CpioEntry[] = [
    { type: 'file', path: 'init', data: Buffer.from(init), mode: 0o755 },
    { type: 'file', path: 'bin/busybox', data: busyboxBin, mode: 0o755 },
    { type: 'symlink', path: 'bin/sh', target: 'busybox' },
    { type: 'char', path: 'dev/console', major: 5, minor: 1 },
    { type: 'char', path: 'dev/null', major: 1, minor: 3, mode: 0o666 },
    { type: 'file', path: 'etc/inittab', data: Buffer.from(TINY_INITTAB) },
    { type: 'file', path: 'etc/profile', data: Buffer.from(TINY_PROFILE) },
    { type: 'file', path: 'etc/passwd', data: Buffer.from('root:x:0:0:root:/root:/bin/sh\n') },
    { type: 'file', path: 'etc/group', data: Buffer.from('root:x:0:\n') },
    { type: 'file', path: 'etc/acpi/PWRF/00000080', data: Buffer.from(TINY_ACPI_POWER), mode: 0o755 },
    { type: 'dir', path: 'root', mode: 0o700 },
    // busybox --install -s links applets into these; it does not create them.
    { type: 'dir', path: 'sbin' },
    { type: 'dir', path: 'usr/bin' },
    { type: 'dir', path: 'usr/sbin' },
    { type: 'dir', path: 'proc' },
    { type: 'dir', path: 'sys' },
    { type: 'dir', path: 'tmp', mode: 0o1777 },
    ...[...boot, ...nfs].map((m): CpioEntry => ({ type: 'file', path: `lib/modules/${flat(m)}`, data: stripModuleSignature(readFileSync(join(relDir, m))) })),
    ...(opts.extra?.entries ?? []),
  ];
  // Not compressed unless the variant asks: QEMU copies a few MB more into guest memory at no cost, while inflating
  // them would be emulated instructions in every boot.
  const initrd = opts.extra?.compress ? gzipReproducible(cpioNewc(entries)) : cpioNewc(entries);

  mkdirSync(outDir, { recursive: true });
  // Written under temporary names and renamed last, so a killed build never looks finished.
  const tmp = (f: string): string => `${f}.tmp`;
  // The uncompressed kernel when it has a PVH entry (QEMU boots it without firmware loader
  // or self-decompression); otherwise the bzImage as packaged.
  const vmlinuz = join(ktree, 'boot', `vmlinuz-${kernel.kernelRelease}`);
  const pvh = extractPvhKernel(readFileSync(vmlinuz));
  if (pvh) writeFileSync(tmp(files.kernel), pvh);
  else copyFileSync(vmlinuz, tmp(files.kernel));
  log(pvh ? 'kernel: uncompressed for PVH boot' : 'kernel: no PVH entry found, keeping the bzImage');
  writeFileSync(tmp(files.initrd), initrd);
  await run.run(`rm -f ${sh(tmp(files.qcow2))} && ${sh('qemu-img', 'create', '-q', '-f', 'qcow2', tmp(files.qcow2), TINY_DISK)}`);
  const meta: ImageMeta = {
    name,
    kind: 'kernel',
    guest: 'busybox',
    cmdline: TINY_CMDLINE,
    createdAt: new Date().toISOString(),
    sizes: {
      kernel: statSync(tmp(files.kernel)).size,
      initrd: initrd.length,
      qcow2: statSync(tmp(files.qcow2)).size,
      qcow2Virtual: 1024 ** 3,
    },
    inputs,
    kernelRelease: kernel.kernelRelease,
    // The initramfs loads virtio_mmio (TINY_BOOT_MODULES).
    machine: 'microvm',
    warm: true,
  };
  for (const f of [files.kernel, files.initrd, files.qcow2]) renameSync(tmp(f), f);
  writeFileSync(files.json, JSON.stringify(meta, null, 2) + '\n');
  log(`built ${name}: kernel ${meta.sizes.kernel} B, initrd ${meta.sizes.initrd} B`);
  return { meta, files, rebuilt: true };
}

/** The kernel parameters the tiny guest reads (see tinyInit.ts), validated so nothing odd reaches -append. */
export function tinyGuestParams(p: { ip?: string; prefix?: number; gw?: string; name?: string; vc?: string; shared?: string }): string {
  const out: string[] = [];
  const ipv4 = /^(\d{1,3}\.){3}\d{1,3}$/;
  if (p.ip !== undefined) {
    if (!ipv4.test(p.ip)) throw new VlxError('invalid-input', `ip: must be an IPv4 address (got ${JSON.stringify(p.ip)})`);
    const prefix = p.prefix ?? 24;
    if (!Number.isInteger(prefix) || prefix < 1 || prefix > 32) throw new VlxError('invalid-input', `prefix: must be 1-32 (got ${prefix})`);
    out.push(`vlx.ip=${p.ip}/${prefix}`);
  }
  if (p.gw !== undefined) {
    if (!ipv4.test(p.gw)) throw new VlxError('invalid-input', `gw: must be an IPv4 address (got ${JSON.stringify(p.gw)})`);
    out.push(`vlx.gw=${p.gw}`);
  }
  if (p.name !== undefined) out.push(`vlx.name=${checkName('vm', p.name, 'name')}`);
  if (p.vc !== undefined) out.push(`vlx.vc=${checkName('vc', p.vc, 'vc')}`);
  if (p.shared !== undefined) {
    if (!/^(\d{1,3}\.){3}\d{1,3}:\/[A-Za-z0-9._/-]*$/.test(p.shared)) throw new VlxError('invalid-input', `shared: must be ADDRESS:/path (got ${JSON.stringify(p.shared)})`);
    out.push(`vlx.shared=${p.shared}`);
  }
  return out.join(' ');
}
