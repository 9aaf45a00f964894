import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { VlxError } from '../errors.js';
import { sh } from '../util/quote.js';
import type { CommandRunner } from './local.js';

/**
 * Debian packages fetched on the workstation with apt (`apt-get download`, no install)
 * and unpacked with `dpkg-deb -x`. Both are cached by exact package version, so a second
 * build does no network and no unpacking.
 */
export interface DebPackage {
  name: string;
  version: string;
  arch: string;
}

const PKG_RE = /^[a-z0-9][a-z0-9+.-]+$/;

function checkPkg(name: string): string {
  if (!PKG_RE.test(name)) throw new VlxError('invalid-input', `package: not a Debian package name (got ${JSON.stringify(name)})`);
  return name;
}

/** Parse `apt-cache show --no-all-versions` output (RFC-822 stanzas) into field maps. */
export function parseAptShow(text: string): Record<string, string>[] {
  return text
    .split(/\n\s*\n/)
    .map((stanza) => {
      const out: Record<string, string> = {};
      let last = '';
      for (const line of stanza.split('\n')) {
        if (/^\s/.test(line) && last) out[last] += '\n' + line.trim();
        else {
          const m = line.match(/^([A-Za-z0-9-]+):\s?(.*)$/);
          if (m) out[(last = m[1])] = m[2];
        }
      }
      return out;
    })
    .filter((s) => s.Package);
}

export async function candidate(run: CommandRunner, name: string): Promise<DebPackage & { depends: string }> {
  const r = await run.exec(sh('apt-cache', 'show', '--no-all-versions', checkPkg(name)));
  const s = parseAptShow(r.stdout)[0];
  if (r.code !== 0 || !s) {
    throw new VlxError('missing-tool', `package ${name} is unknown to apt on this workstation`, 'run `apt-get update` (the build needs the Debian mirror or a cached copy)');
  }
  return { name: s.Package, version: s.Version, arch: s.Architecture, depends: s.Depends ?? '' };
}

/** `linux-image-cloud-amd64` is a metapackage: the kernel is the versioned package it depends on. */
export function resolveCloudKernel(run: CommandRunner): Promise<DebPackage & { kernelRelease: string }> {
  return resolveKernel(run, 'linux-image-cloud-amd64');
}

/** A kernel metapackage (`linux-image-cloud-amd64`, `linux-image-amd64`) to its versioned kernel package. */
export async function resolveKernel(run: CommandRunner, metaName: string): Promise<DebPackage & { kernelRelease: string }> {
  const meta = await candidate(run, metaName);
  const flavour = metaName.replace(/^linux-image-/, '');
  const dep = meta.depends.split(',').map((d) => d.trim().split(/\s/)[0]).find((d) => d.startsWith('linux-image-') && /^linux-image-\d/.test(d) && d.endsWith(`-${flavour}`));
  if (!dep) throw new VlxError('internal', `${metaName} ${meta.version} names no versioned kernel package (Depends: ${meta.depends})`);
  const pkg = await candidate(run, dep);
  return { ...pkg, kernelRelease: dep.replace(/^linux-image-/, '') };
}

/** apt-get download names files with the epoch's ':' escaped as %3a. */
export function debFileName(p: DebPackage): string {
  return `${p.name}_${p.version.replace(/:/g, '%3a')}_${p.arch}.deb`;
}

export async function fetchDeb(run: CommandRunner, p: DebPackage, cacheDir: string): Promise<string> {
  const dir = join(cacheDir, 'debs');
  const file = join(dir, debFileName(p));
  if (existsSync(file)) return file;
  mkdirSync(dir, { recursive: true });
  // apt's sandbox user cannot write to a root-owned 0700 cache: download as root, in place.
  const r = await run.exec(`cd ${sh(dir)} && ${sh('apt-get', '-o', 'APT::Sandbox::User=root', '-q', 'download', `${p.name}=${p.version}`)}`, { timeoutMs: 600_000 });
  if (r.code !== 0 || !existsSync(file)) {
    throw new VlxError('unreachable', `could not download ${p.name} ${p.version}: ${r.stderr.trim().slice(-400)}`, 'the image is built on the workstation: it needs the Debian mirror (or the .deb in the cache)');
  }
  return file;
}

/** Unpack once per exact .deb; a half-unpacked tree from a killed run is never reused. */
export async function unpackDeb(run: CommandRunner, debFile: string, cacheDir: string): Promise<string> {
  const base = debFile.split('/').pop()!.replace(/\.deb$/, '');
  const dest = join(cacheDir, 'unpacked', base);
  if (existsSync(join(dest, '.vlx-complete'))) return dest;
  const tmp = `${dest}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  await run.run(sh('dpkg-deb', '-x', debFile, tmp), { timeoutMs: 300_000 });
  writeFileSync(join(tmp, '.vlx-complete'), '');
  rmSync(dest, { recursive: true, force: true });
  renameSync(tmp, dest);
  return dest;
}

/**
 * apt-cache rebuilds its package cache on every call where the cache file is disabled
 * (container images do that): ~1 s per call. The answer only changes when the package
 * lists do, so it is remembered against a stamp of the lists directory.
 */
export async function resolveCached<T>(run: CommandRunner, cacheDir: string, key: string, resolve: () => Promise<T>): Promise<T> {
  const stamp = createHash('sha256')
    .update(await run.run('ls -l --time-style=+%s /var/lib/apt/lists /etc/apt/sources.list.d 2>/dev/null; true'))
    .digest('hex');
  const file = join(cacheDir, 'apt-resolved.json');
  let memo: Record<string, { stamp: string; value: T }> = {};
  try {
    memo = JSON.parse(readFileSync(file, 'utf8')) as typeof memo;
  } catch {
    memo = {};
  }
  if (memo[key]?.stamp === stamp) return memo[key].value;
  const value = await resolve();
  memo[key] = { stamp, value };
  mkdirSync(cacheDir, { recursive: true });
  writeFileSync(`${file}.tmp`, JSON.stringify(memo, null, 2));
  renameSync(`${file}.tmp`, file);
  return value;
}
