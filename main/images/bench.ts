import { createHash } from 'node:crypto';
import { readFileSync, realpathSync, statSync } from 'node:fs';
import { VlxError } from '../errors.js';
import { sh } from '../util/quote.js';
import type { CpioEntry } from './cpio.js';
import { localRunner, type CommandRunner } from './local.js';
import { MPIBENCH_GUEST_PATH, compileMpiBench, mpiFileList, mpiParamsFile } from './benchMpi.js';
import { buildTiny, cacheRoot, type BuildOptions, type BuiltImage } from './tiny.js';

/**
 * The bench guest: the tiny guest plus the probe tools of the report's experiments, the same
 * binaries the nodes run (Debian's sysbench and iperf3, installed on this workstation by
 * scripts/ensure-debian-packages.sh), with the shared libraries ldd names for them. fio is
 * not in it: Debian's fio links 64 libraries (ceph, gluster, 80 MB), more than the guest's
 * memory holds; sysbench fileio measures the same sequential and random I/O. The mpi kind's
 * part (Open MPI, dropbear, our probe) is chosen in benchMpi.ts.
 */
export const BENCH_TOOLS = [
  { bin: '/usr/bin/sysbench', pkg: 'sysbench' },
  { bin: '/usr/bin/iperf3', pkg: 'iperf3' },
] as const;

/** `ldd` lines "libx.so.1 => /lib/…/libx.so.1 (0x…)" and "/lib64/ld-linux-x86-64.so.2 (0x…)": the paths. */
export function lddPaths(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    if (/not found/.test(line)) throw new VlxError('not-found', `ldd: ${line.trim()}`);
    const m = line.match(/=>\s+(\/\S+)\s+\(/) ?? line.match(/^\s*(\/\S+)\s+\(/);
    if (m) out.push(m[1]!);
  }
  return out;
}

/** Each tool and the libraries it loads, as initramfs files at the paths the dynamic linker looks for. */
export async function benchEntries(run: CommandRunner = localRunner(), cacheDir = cacheRoot()): Promise<{ entries: CpioEntry[]; key: string }> {
  const missing = BENCH_TOOLS.filter((t) => !statSafe(t.bin));
  if (missing.length > 0) {
    const pkgs = missing.map((t) => t.pkg).join(' ');
    throw new VlxError('not-found', `the bench image needs ${pkgs} on this workstation`, `apt-get install ${pkgs} (scripts/ensure-debian-packages.sh installs them)`);
  }
  const mpi = mpiFileList();
  const mpibench = await compileMpiBench(run, cacheDir);
  const executables = new Set<string>();
  for (const bin of [...BENCH_TOOLS.map((t) => t.bin), ...mpi.executables, mpibench]) {
    executables.add(bin);
    for (const p of lddPaths(await run.run(sh('ldd', bin)))) executables.add(p);
  }
  const generated: CpioEntry[] = [
    { type: 'file', path: MPIBENCH_GUEST_PATH.slice(1), data: readFileSync(mpibench), mode: 0o755 },
    { type: 'symlink', path: 'usr/bin/mpirun', target: 'orterun' },
    { type: 'file', path: 'etc/openmpi/openmpi-mca-params.conf', data: Buffer.from(mpiParamsFile()), mode: 0o644 },
    // dropbear -R writes its host keys here; the workflow writes authorized_keys per run.
    { type: 'dir', path: 'etc/dropbear', mode: 0o700 },
    { type: 'dir', path: 'root/.ssh', mode: 0o700 },
  ];
  const hash = createHash('sha256');
  const entries: CpioEntry[] = [];
  const files = [...[...executables].filter((p) => p !== mpibench).map((p) => ({ path: p, mode: 0o755 })), ...mpi.data.map((p) => ({ path: p, mode: 0o644 }))];
  for (const f of files.sort((a, b) => a.path.localeCompare(b.path))) {
    // A library path is often a symlink (libiperf.so.0 → libiperf.so.0.0.0): the guest gets the file under the name asked for.
    const data = readFileSync(realpathSync(f.path));
    hash.update(f.path).update(data);
    entries.push({ type: 'file', path: f.path.replace(/^\/+/, ''), data, mode: f.mode });
  }
  for (const e of generated) {
    hash.update(JSON.stringify({ ...e, data: undefined }));
    if (e.type === 'file') hash.update(e.data);
  }
  return { entries: [...entries, ...generated], key: hash.digest('hex') };
}

function statSafe(path: string): boolean {
  try { return statSync(path).isFile(); } catch { return false; }
}

/** Built and cached like tiny (by a hash of every input, the tools' bytes included). */
export async function buildBench(opts: Omit<BuildOptions, 'extra'> = {}): Promise<BuiltImage> {
  const log = opts.log ?? (() => undefined);
  log('collecting the probe tools and their libraries (ldd)');
  const extra = await benchEntries(opts.run, opts.cacheDir);
  log(`${extra.entries.length} files, ${(extra.entries.reduce((n, e) => n + (e.type === 'file' ? e.data.length : 0), 0) / 1048576).toFixed(1)} MiB`);
  // gzip: the kernel holds the initramfs and the files unpacked from it at once; uncompressed
  // (34 MB) that is more than a 128 MB guest has, gzipped (15 MB) it boots with ~33 MB free.
  return buildTiny({ ...opts, name: opts.name ?? 'tiny-bench', extra: { ...extra, key: `${extra.key}+gzip`, modules: [], compress: true } });
}
