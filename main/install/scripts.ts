import { sh } from '../util/quote.js';
import { checkInt } from '../util/names.js';
import type { StoragePaths } from '../domain/storagePaths.js';
import { hostKeyDir } from '../domain/nodeConfig.js';

/**
 * Scripts the install and restore workflows send to one node (shared storage is the same
 * on all), one SSH round trip each, fed to `sh -e` on stdin. Pure and idempotent: each
 * checks what is there and does only what is missing, so a re-run changes nothing and
 * a run killed half-way leaves whole files or none (written aside, then renamed).
 */

export interface StorageBatch {
  paths: StoragePaths;
  container: string;
  baseImage: string;
  rootMb: number;
  swapMb: number;
  ordinals: number[];
}

const MB = 1024 * 1024;

/** A line `key value` per fact on stdout, read back by parseFacts. */
export function parseFacts(stdout: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of stdout.split('\n')) {
    const m = /^([a-z][a-z0-9_-]*) (.*)$/.exec(line.trim());
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
}

/**
 * The original is a full copy of the base image (never an overlay of it): the cluster's
 * roots then depend on nothing outside cluster/<container>/, the image library can be
 * rebuilt or pruned, and update-original changes only this cluster. Its cost is paid once.
 * Each node root is an overlay of the original; all overlays of one size are the same
 * bytes (absolute backing path, no per-file id), so one qemu-img and one `tee` make all of
 * them: constant time per node. Swap volumes are sparse files with a swap signature.
 */
export function renderStorageScript(b: StorageBatch): string {
  const p = b.paths;
  const dir = p.clusterDir(b.container);
  const orig = p.clusterOriginal(b.container);
  const img = p.image(b.baseImage).disk;
  const rootBytes = checkInt(b.rootMb, 'rootMb', 1, 1 << 30) * MB;
  const swapMb = checkInt(b.swapMb, 'swapMb', 0, 1 << 30);
  const tmp = `${dir}/.new`;
  // The private directory is made only when something is missing: a no-op run touches nothing, not even a directory's mtime.
  const lines = [
    'umask 022',
    sh('mkdir', '-p', dir, p.clusterShared(b.container), `${dir}/keys`),
    'roots= ; swaps= ; made=0 ; need=0',
    `[ -e ${sh(orig)} ] || need=1`,
  ];
  for (const n of b.ordinals) {
    lines.push(`[ -e ${sh(p.nodeRoot(b.container, n))} ] || { roots="$roots "${sh(`${tmp}/node${n}.qcow2`)}; made=$((made+1)); need=1; }`);
    if (swapMb > 0) lines.push(`[ -e ${sh(p.nodeSwap(b.container, n))} ] || { swaps="$swaps "${sh(`${tmp}/node${n}.swap`)}; need=1; }`);
  }
  lines.push(
    `if [ $need = 1 ]; then ${sh('rm', '-rf', tmp)}; ${sh('mkdir', tmp)}; fi`,
    `if [ -e ${sh(orig)} ]; then echo original kept; else`,
    `  [ -e ${sh(img)} ] || { echo ${sh(`base image ${img} is missing: build or import it first`)} >&2; exit 3; }`,
    `  cp --reflink=auto --sparse=always ${sh(img, `${tmp}/original.qcow2`)}`,
    `  chmod 0444 ${sh(`${tmp}/original.qcow2`)} && mv ${sh(`${tmp}/original.qcow2`, orig)}`,
    '  echo original copied',
    'fi',
    'if [ -n "$roots" ]; then',
    // The overlay is as large as the root volume asked for, never smaller than the original.
    `  vsize=$(qemu-img info --output=json ${sh(orig)} | sed -n 's/^ *"virtual-size": *\\([0-9]*\\).*/\\1/p' | head -n 1)`,
    `  size=${rootBytes}; [ "$vsize" -gt "$size" ] && size=$vsize`,
    `  qemu-img create -q -f qcow2 -b ${sh(orig)} -F qcow2 ${sh(`${tmp}/root.tpl`)} "$size"`,
    `  tee $roots < ${sh(`${tmp}/root.tpl`)} > /dev/null`,
    `  rm ${sh(`${tmp}/root.tpl`)}`,
    'fi',
    'if [ -n "$swaps" ]; then',
    `  truncate -s ${swapMb}M ${sh(`${tmp}/swap.tpl`)}`,
    `  if command -v mkswap >/dev/null 2>&1; then mkswap ${sh(`${tmp}/swap.tpl`)} >/dev/null 2>&1 || true; fi`,
    `  for f in $swaps; do cp --sparse=always ${sh(`${tmp}/swap.tpl`)} "$f"; done`,
    `  rm ${sh(`${tmp}/swap.tpl`)}`,
    'fi',
    `if [ $need = 1 ]; then set -- ${sh(tmp)}/*; if [ -e "$1" ]; then mv "$@" ${sh(`${dir}/`)}; fi; ${sh('rmdir', tmp)}; fi`,
    'echo "roots_made $made"',
  );
  return lines.join('\n') + '\n';
}

/**
 * Each node's SSH host keys, made once and kept: a reset root comes back with the same
 * keys, so workstations that know the node keep trusting it. Prints every key, base64.
 */
export function renderKeysScript(paths: StoragePaths, container: string, ordinals: number[]): string {
  const dir = `${paths.clusterDir(container)}/keys`;
  const lines = ['umask 077', sh('mkdir', '-p', dir)];
  for (const n of ordinals) {
    const d = hostKeyDir(paths.clusterDir(container), checkInt(n, 'node', 1, 9999));
    const k = `${d}/ssh_host_ed25519_key`;
    lines.push(
      `if [ ! -e ${sh(k)} ]; then ${sh('rm', '-rf', `${d}.new`)}; ${sh('mkdir', '-p', `${d}.new`)}; ${sh('ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-C', `node${n}`, '-f', `${d}.new/ssh_host_ed25519_key`)}; ${sh('rm', '-rf', d)}; ${sh('mv', `${d}.new`, d)}; fi`,
      `printf 'key%s ' ${n}; cat ${sh(k)} | base64 -w0; printf ' '; cat ${sh(`${k}.pub`)} | base64 -w0; echo`,
    );
  }
  return lines.join('\n') + '\n';
}

export function parseKeys(stdout: string): Map<number, { ed25519: string; ed25519Pub: string }> {
  const out = new Map<number, { ed25519: string; ed25519Pub: string }>();
  for (const line of stdout.split('\n')) {
    const m = /^key(\d+) ([A-Za-z0-9+/=]+) ([A-Za-z0-9+/=]+)$/.exec(line.trim());
    if (m) out.set(Number(m[1]), { ed25519: Buffer.from(m[2]!, 'base64').toString('utf8'), ed25519Pub: Buffer.from(m[3]!, 'base64').toString('utf8') });
  }
  return out;
}

export interface FileToWrite { path: string; data: Buffer; mode?: number }

/**
 * Writes files only where their content differs (cmp), so an unchanged file keeps its
 * mtime and a re-run rewrites nothing. Prints `written N` and `kept N`.
 */
export function renderWriteFilesScript(files: FileToWrite[]): string {
  // Decoded in a private directory first: a file found unchanged never touches its own directory.
  const lines = ['w=0; k=0', 'scratch=$(mktemp -d)', 'trap \'rm -rf "$scratch"\' EXIT'];
  files.forEach((f, i) => {
    if (!/^\/[A-Za-z0-9._/-]+$/.test(f.path) || f.path.split('/').includes('..')) throw new Error(`bad path ${f.path}`);
    const dir = f.path.slice(0, f.path.lastIndexOf('/')) || '/';
    lines.push(
      `base64 -d > "$scratch/${i}" <<'VLX_EOF'`,
      ...(f.data.toString('base64').match(/.{1,76}/g) ?? []),
      'VLX_EOF',
      `if cmp -s "$scratch/${i}" ${sh(f.path)}; then k=$((k+1)); else`,
      `  mkdir -p ${sh(dir)} && cp "$scratch/${i}" ${sh(`${f.path}.vlx-new`)} && chmod ${(f.mode ?? 0o644).toString(8)} ${sh(`${f.path}.vlx-new`)} && mv ${sh(`${f.path}.vlx-new`, f.path)}; w=$((w+1))`,
      'fi',
    );
  });
  lines.push('echo "written $w"', 'echo "kept $k"');
  return lines.join('\n') + '\n';
}

/** Copies a file only when the target is missing or differs (the kernel and initrd into the TFTP root). */
export function renderCopyIfChangedScript(pairs: { from: string; to: string }[]): string {
  const lines = ['w=0; k=0'];
  for (const { from, to } of pairs) {
    lines.push(
      `[ -e ${sh(from)} ] || { echo ${sh(`${from} is missing: the base image has no kernel and initrd to boot from`)} >&2; exit 3; }`,
      `mkdir -p ${sh(to.slice(0, to.lastIndexOf('/')))}`,
      `if cmp -s ${sh(from, to)}; then k=$((k+1)); else cp ${sh(from, `${to}.vlx-new`)} && mv ${sh(`${to}.vlx-new`, to)}; w=$((w+1)); fi`,
    );
  }
  lines.push('echo "written $w"', 'echo "kept $k"');
  return lines.join('\n') + '\n';
}

/**
 * A reset root is a new overlay of the original, written aside and renamed over the old
 * one: what the node wrote is gone, and a kill half-way leaves the old root or the new one.
 */
export function renderResetScript(paths: StoragePaths, container: string, ordinals: number[]): string {
  const dir = paths.clusterDir(container);
  const orig = paths.clusterOriginal(container);
  const lines = [
    `[ -e ${sh(orig)} ] || { echo ${sh(`${orig} is missing: run the install first`)} >&2; exit 3; }`,
    `tpl=${sh(`${dir}/.reset.tpl`)}`,
    `vsize=$(qemu-img info --output=json ${sh(paths.nodeRoot(container, ordinals[0] ?? 1))} 2>/dev/null | sed -n 's/^ *"virtual-size": *\\([0-9]*\\).*/\\1/p' | head -n 1)`,
    `qemu-img create -q -f qcow2 -b ${sh(orig)} -F qcow2 "$tpl" $vsize`,
  ];
  for (const n of ordinals) {
    const root = paths.nodeRoot(container, n);
    lines.push(`cp "$tpl" ${sh(`${root}.vlx-new`)} && mv ${sh(`${root}.vlx-new`, root)} && echo ${sh(`reset node${n}`)}`);
  }
  lines.push('rm -f "$tpl"');
  return lines.join('\n') + '\n';
}

/** Facts for the preflight: tools present, storage writable, free space, containers and images there. */
export function renderPreflightScript(paths: StoragePaths): string {
  return [
    `root=${sh(paths.root)}`,
    'm=; for t in qemu-img ssh-keygen base64 cmp truncate; do command -v $t >/dev/null 2>&1 || m="$m $t"; done; echo "missing_tools ${m# }"',
    '[ -d "$root" ] && echo mounted yes || echo mounted no',
    't="$root/.vlx-write-test.$$"; if ( : > "$t" ) 2>/dev/null; then rm -f "$t"; echo writable yes; else echo writable no; fi',
    'echo "free_mb $(df -Pm "$root" 2>/dev/null | awk \'NR==2 {print $4}\')"',
    'echo "containers $(ls -1 "$root/cluster" 2>/dev/null | tr \'\\n\' \' \')"',
    // Each image as name:1 when it has the kernel and initrd a node boots, name:0 when not.
    'printf images; for f in "$root"/images/*.qcow2; do [ -f "$f" ] || continue; n=${f%.qcow2}; b=0; [ -f "$n.kernel" ] && [ -f "$n.initrd" ] && b=1; printf \' %s:%s\' "${n##*/}" $b; done; echo',
  ].join('\n') + '\n';
}

/** The preflight's `images` line (undefined when the script stopped before it). */
export function parseImagesFact(stdout: string): { name: string; bootable: boolean }[] | undefined {
  const line = /^images((?: [^\s:]+:[01])*)\s*$/m.exec(stdout);
  if (!line) return undefined;
  return line[1]!.trim().split(' ').filter(Boolean).map((w) => ({ name: w.slice(0, -2), bootable: w.endsWith(':1') }));
}
