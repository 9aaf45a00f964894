import { createHash } from 'node:crypto';
import { readFileSync, realpathSync, statSync } from 'node:fs';
import { VlxError } from '../errors.js';
import { sh } from '../util/quote.js';
import type { CpioEntry } from './cpio.js';
import { localRunner, type CommandRunner } from './local.js';
import { buildTiny, type BuildOptions, type BuiltImage } from './tiny.js';

/**
 * The bench guest: the tiny guest plus the probe tools of the report's experiments, the same
 * binaries the nodes run (Debian's sysbench and iperf3, installed on this workstation by
 * scripts/ensure-debian-packages.sh), with the shared libraries ldd names for them. fio is
 * not in it: Debian's fio links 64 libraries (ceph, gluster, 80 MB), more than the guest's
 * memory holds; sysbench fileio measures the same sequential and random I/O.
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
export async function benchEntries(run: CommandRunner = localRunner()): Promise<{ entries: CpioEntry[]; key: string }> {
  const missing = BENCH_TOOLS.filter((t) => !statSafe(t.bin));
  if (missing.length > 0) {
    const pkgs = missing.map((t) => t.pkg).join(' ');
    throw new VlxError('not-found', `the bench image needs ${pkgs} on this workstation`, `apt-get install ${pkgs} (scripts/ensure-debian-packages.sh installs them)`);
  }
  const files = new Set<string>();
  for (const t of BENCH_TOOLS) {
    files.add(t.bin);
    for (const p of lddPaths(await run.run(sh('ldd', t.bin)))) files.add(p);
  }
  const hash = createHash('sha256');
  const entries: CpioEntry[] = [];
  for (const path of [...files].sort()) {
    // A library path is often a symlink (libiperf.so.0 → libiperf.so.0.0.0): the guest gets the file under the name asked for.
    const data = readFileSync(realpathSync(path));
    hash.update(path).update(data);
    entries.push({ type: 'file', path: path.replace(/^\/+/, ''), data, mode: 0o755 });
  }
  return { entries, key: hash.digest('hex') };
}

function statSafe(path: string): boolean {
  try { return statSync(path).isFile(); } catch { return false; }
}

/** Built and cached like tiny (by a hash of every input, the tools' bytes included). */
export async function buildBench(opts: Omit<BuildOptions, 'extra'> = {}): Promise<BuiltImage> {
  const log = opts.log ?? (() => undefined);
  log('collecting the probe tools and their libraries (ldd)');
  const extra = await benchEntries(opts.run);
  log(`${extra.entries.length} files, ${(extra.entries.reduce((n, e) => n + (e.type === 'file' ? e.data.length : 0), 0) / 1048576).toFixed(1)} MiB`);
  return buildTiny({ ...opts, name: opts.name ?? 'tiny-bench', extra: { ...extra, modules: [] } });
}
