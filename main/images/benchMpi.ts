import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { VlxError } from '../errors.js';
import { sh } from '../util/quote.js';
import mpibenchSource from './bench/mpibench.c';
import type { CommandRunner } from './local.js';

/**
 * What the mpi experiment adds to the bench guest: Open MPI's launcher and daemon (Debian's
 * 4.1), only the plugins a TCP run loads, dropbear for mpirun's remote launch, and our probe
 * (bench/mpibench.c) compiled here with mpicc. Every plugin with its full closure would be
 * ~35 MB, mostly ucx/ofi/psm/verbs libraries a VM has no use for; this set is ~16 MB.
 * Plugins are dlopen'ed, so ldd of the binaries never names them: the list is explicit, and
 * the params file pins the frameworks that choose among several, so a plugin missing from
 * the image fails the run by name instead of another one being chosen silently.
 */
export const MPI_PLUGIN_DIR = '/usr/lib/x86_64-linux-gnu/openmpi/lib/openmpi3';
export const PMIX_PLUGIN_DIR = '/usr/lib/x86_64-linux-gnu/pmix2/lib/pmix';

/** framework → components (files mca_<framework>_<component>.so), with who needs them. */
export const MPI_PLUGINS: Record<string, string[]> = {
  // the MPI layer of each rank: point-to-point over TCP (self for a rank to itself, vader within a VM)
  btl: ['self', 'vader', 'tcp'], pml: ['ob1'], bml: ['r2'], coll: ['basic', 'libnbc', 'self', 'tuned'],
  allocator: ['basic', 'bucket'], rcache: ['grdma'], shmem: ['mmap', 'posix'], reachable: ['weighted'],
  // the runtime: mpirun (hnp), orted on each other VM (env, over rsh), the ranks (pmi)
  plm: ['rsh'], ess: ['hnp', 'env', 'pmi'], pmix: ['ext3x'], odls: ['default'], routed: ['radix', 'direct'],
  rml: ['oob'], oob: ['tcp'], grpcomm: ['direct'], state: ['hnp', 'orted', 'app'],
  errmgr: ['default_hnp', 'default_orted', 'default_app'], rmaps: ['round_robin'], ras: ['simulator'],
  schizo: ['ompi', 'orte'], regx: ['fwd', 'naive'], iof: ['hnp', 'orted'],
};
/** PMIx's own plugins (its params file points at PMIX_PLUGIN_DIR). */
export const PMIX_PLUGINS = ['pcompress_zlib', 'prm_default'];

/**
 * Components a run cannot do without, checked against MPI_PLUGINS so that an edit of the
 * list that drops one fails the build, not a run in a guest.
 */
const NEEDED: [string, string, string][] = [
  ['btl', 'tcp', 'messages between VMs'], ['btl', 'self', 'a rank sending to itself (collectives)'], ['pml', 'ob1', 'the point-to-point layer over btls'],
  ['bml', 'r2', 'ob1 reaches its btls through it'], ['coll', 'basic', 'MPI_Allreduce'], ['plm', 'rsh', 'mpirun starting orted on the other VMs'],
  ['ess', 'hnp', 'mpirun'], ['ess', 'env', 'orted started over rsh'], ['ess', 'pmi', 'the ranks'], ['pmix', 'ext3x', 'the ranks talking to their daemon'],
  ['oob', 'tcp', 'daemons talking to mpirun'], ['rml', 'oob', 'the runtime messages'], ['odls', 'default', 'starting the ranks'],
  ['state', 'hnp', 'mpirun'], ['state', 'orted', 'orted'], ['state', 'app', 'the ranks'], ['errmgr', 'default_hnp', 'mpirun'],
  ['errmgr', 'default_orted', 'orted'], ['errmgr', 'default_app', 'the ranks'], ['grpcomm', 'direct', 'the runtime collectives'],
  ['rmaps', 'round_robin', 'mapping ranks to hosts'], ['routed', 'radix', 'the default routing'], ['schizo', 'ompi', 'mpirun reading its options'],
  ['regx', 'fwd', 'the node list passed to orted'], ['iof', 'hnp', 'the ranks\' output back to mpirun'], ['iof', 'orted', 'the ranks\' output back to mpirun'],
  ['shmem', 'mmap', 'vader and the session directory'], ['allocator', 'basic', 'ob1\'s buffers'], ['reachable', 'weighted', 'btl tcp choosing interfaces'],
];

export function checkMpiPlugins(plugins: Record<string, string[]> = MPI_PLUGINS): void {
  const missing = NEEDED.filter(([f, c]) => !plugins[f]?.includes(c));
  if (missing.length > 0) {
    throw new VlxError('invalid-input', `MPI_PLUGINS: must include ${missing.map(([f, c, why]) => `${f} ${c} (${why})`).join(', ')}`);
  }
}

/** The frameworks pinned in the guest's params file: exactly the components the image has. */
const PINNED = ['btl', 'pml', 'coll', 'plm', 'oob'] as const;

/**
 * /etc/openmpi/openmpi-mca-params.conf of the guest. The run adds what depends on the VC
 * (the interface, the rsh agent) on mpirun's command line. No binding: under TCG a VM's
 * "cores" are threads of one emulator, and there is one rank per VM.
 */
export function mpiParamsFile(plugins: Record<string, string[]> = MPI_PLUGINS): string {
  checkMpiPlugins(plugins);
  return [
    '# written by vlx (main/images/benchMpi.ts): only the components this image holds',
    ...PINNED.map((f) => `${f} = ${plugins[f]!.join(',')}`),
    'hwloc_base_binding_policy = none',
    'rmaps_base_oversubscribe = true',
    'btl_base_warn_component_unused = 0',
    'mca_base_component_show_load_errors = 1',
    '',
  ].join('\n');
}

/**
 * Binaries whose ldd closure the image needs (plugins are added from MPI_PLUGINS; libmpi comes
 * with mpibench's closure, at the path ldd names, so it is in the image once).
 */
export const MPI_BINARIES = [
  { bin: '/usr/bin/orterun', pkg: 'openmpi-bin' },
  { bin: '/usr/bin/orted', pkg: 'openmpi-bin' },
  { bin: '/usr/bin/mpicc', pkg: 'libopenmpi-dev' },
  { bin: '/usr/sbin/dropbear', pkg: 'dropbear-bin' },
  { bin: '/usr/bin/dbclient', pkg: 'dropbear-bin' },
  { bin: '/usr/bin/dropbearkey', pkg: 'dropbear-bin' },
] as const;
/** Read at run time: help texts (an error without them is "Sorry! You were supposed to get help…") and PMIx's params. */
export const MPI_DATA_DIRS = ['/usr/share/openmpi', '/usr/lib/x86_64-linux-gnu/pmix2/share'];

/** Every file the guest gets from this workstation, by absolute path: binaries and plugins (ldd follows them), data files. */
export function mpiFileList(plugins: Record<string, string[]> = MPI_PLUGINS): { executables: string[]; data: string[] } {
  checkMpiPlugins(plugins);
  const missingPkg = MPI_BINARIES.filter((b) => !isFile(b.bin));
  if (missingPkg.length > 0) {
    const pkgs = [...new Set(missingPkg.map((b) => b.pkg))].join(' ');
    throw new VlxError('not-found', `the bench image's mpi probe needs ${pkgs} on this workstation`, `apt-get install ${pkgs} (listed in scripts/debian-packages.txt)`);
  }
  const pluginFiles = [
    ...Object.entries(plugins).flatMap(([f, cs]) => cs.map((c) => join(MPI_PLUGIN_DIR, `mca_${f}_${c}.so`))),
    ...PMIX_PLUGINS.map((p) => join(PMIX_PLUGIN_DIR, `pmix_mca_${p}.so`)),
  ];
  const absent = pluginFiles.filter((p) => !isFile(p));
  if (absent.length > 0) throw new VlxError('not-found', `Open MPI plugin(s) not on this workstation: ${absent.join(', ')}`, 'apt-get install --reinstall openmpi-bin libopenmpi3 libpmix2');
  const executables = [...MPI_BINARIES.filter((b) => b.pkg !== 'libopenmpi-dev').map((b) => b.bin), ...pluginFiles];
  const data = MPI_DATA_DIRS.flatMap((d) => walk(d)).filter((f) => !/wrapper-data\.txt$|\.supp$/.test(f));
  return { executables, data };
}

function isFile(path: string): boolean {
  try { return statSync(path).isFile(); } catch { return false; }
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory() ? walk(p) : e.isFile() ? [p] : [];
  });
}

export const MPIBENCH_SOURCE = mpibenchSource;
export const MPIBENCH_GUEST_PATH = '/usr/bin/mpibench';

/**
 * The probe compiled with `mpicc -O2`, cached by a hash of its source and of mpicc's version
 * (the cache key of the image includes the binary's bytes anyway).
 */
export async function compileMpiBench(run: CommandRunner, cacheDir: string): Promise<string> {
  const version = (await run.run(sh('mpicc', '--version'))).split('\n')[0] ?? '';
  const key = createHash('sha256').update(MPIBENCH_SOURCE).update(version).digest('hex').slice(0, 16);
  const dir = join(cacheDir, 'mpibench', key);
  const out = join(dir, 'mpibench');
  if (existsSync(out)) return out;
  mkdirSync(dir, { recursive: true });
  const src = join(dir, 'mpibench.c');
  writeFileSync(src, MPIBENCH_SOURCE);
  await run.run(sh('mpicc', '-O2', '-Wall', '-o', `${out}.tmp`, src));
  renameSync(`${out}.tmp`, out);
  return out;
}
