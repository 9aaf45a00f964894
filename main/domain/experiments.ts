import { checkAddress, checkInt } from '../util/names.js';
import { invalid } from '../errors.js';
import { SERIAL_COMMAND_MAX } from './consoleCommand.js';

/**
 * The report's experiments (section 6), as probes the bench guest and the nodes run with the
 * same binaries: the kinds, their probe scripts, and what a result row is. Pure: the workflow
 * (workflows/experiment.ts) runs the scripts and reads them with experimentParse.ts. The mpi
 * kind's scripts are in experimentMpi.ts.
 */
export const EXPERIMENT_KINDS = ['os-overhead', 'network', 'storage', 'mpi'] as const;
export type ExperimentKind = (typeof EXPERIMENT_KINDS)[number];

/** Probe length in seconds: 1 for a quick check, up to 10 minutes for a careful one. */
export const EXPERIMENT_SECONDS = { min: 1, max: 600, default: 5 } as const;

export function checkKind(value: unknown): ExperimentKind {
  if (typeof value === 'string' && (EXPERIMENT_KINDS as readonly string[]).includes(value)) return value as ExperimentKind;
  throw invalid('kind', `must be one of ${EXPERIMENT_KINDS.join(', ')}`, value);
}

export function checkSeconds(value: unknown): number {
  return checkInt(value, 'seconds', EXPERIMENT_SECONDS.min, EXPERIMENT_SECONDS.max);
}

/** One measured value: e.g. probe 'cpu', target 'vm', param '', 2374.0 'events/s'. */
export interface ExperimentValue {
  probe: string;
  /** Where or between what: 'node', 'vm', 'vm-vm same node', 'vm overlay', … */
  target: string;
  /** e.g. the message size in bytes; '' when the probe has none. */
  param: string;
  value: number;
  unit: string;
}

/** A stored value with its run's facts (one CSV line). */
export interface ExperimentRow extends ExperimentValue {
  runId: number;
  kind: ExperimentKind;
  vc: string;
  vcSize: number;
  placement: string;
  accel: 'kvm' | 'tcg';
  image: string;
  date: string;
}

// ---------------------------------------------------------------- os-overhead

export const OS_PROBES = [
  { probe: 'cpu', unit: 'events/s' },
  { probe: 'memory', unit: 'MiB/s' },
  { probe: 'threads', unit: 'events/s' },
  { probe: 'syscall', unit: 'syscalls/s' },
  { probe: 'context-switch', unit: 'switches/s' },
] as const;
export const SYSCALLS_PER_EVENT = 100;
/** One context-switch event is a one-byte round trip between two processes: two switches. */
export const SWITCHES_PER_EVENT = 2;

/** What one probe command may hold: the console's limit (domain/consoleCommand.ts). */
export const CONSOLE_LINE_MAX = SERIAL_COMMAND_MAX;

const SYSCALL_LUA = '/tmp/vlx-syscall.lua';
const CTXSW_LUA = '/tmp/vlx-ctxsw.lua';

/**
 * The two micro-probes, as sysbench Lua events through LuaJIT's FFI (no compiler in the guest):
 * - syscall: SYSCALLS_PER_EVENT raw getpid() calls (syscall(2), never a cached libc answer);
 * - context switch: lmbench's lat_ctx idea. A child forked in thread_init echoes one byte
 *   back through a second pipe; both are pinned to CPU 0, so each round trip is two switches
 *   on one CPU rather than two wake-ups across CPUs.
 * Each file is written by its own console command, lines without single quotes.
 */
const PROBE_FILES: { path: string; lua: string[] }[] = [
  {
    path: SYSCALL_LUA,
    lua: [
      'local ffi = require("ffi")',
      'ffi.cdef[[long syscall(long n, ...);]]',
      `function event() for i = 1, ${SYSCALLS_PER_EVENT} do ffi.C.syscall(39) end end`,
    ],
  },
  {
    path: CTXSW_LUA,
    lua: [
      'local ffi = require("ffi")',
      'ffi.cdef[[int pipe(int*); int fork(void); long read(int, void*, unsigned long); long write(int, const void*, unsigned long); int close(int); void _exit(int); int sched_setaffinity(int, unsigned long, const void*); int waitpid(int, int*, int);]]',
      'local C, a, b, buf, pid = ffi.C',
      'local function rd(fd) local n repeat n = C.read(fd, buf, 1) until n ~= -1 or ffi.errno() ~= 4 return n == 1 end',
      'function thread_init() a = ffi.new("int[2]"); b = ffi.new("int[2]"); buf = ffi.new("char[1]")',
      ' local m = ffi.new("unsigned char[128]"); m[0] = 1; C.sched_setaffinity(0, 128, m); C.pipe(a); C.pipe(b); pid = C.fork()',
      ' if pid == 0 then C.close(a[1]); C.close(b[0]); while rd(a[0]) do C.write(b[1], buf, 1) end; C._exit(0) end',
      ' assert(pid > 0, "fork failed"); C.close(a[0]); C.close(b[1]) end',
      'function event() C.write(a[1], buf, 1); if not rd(b[0]) then error("the echo process is gone") end end',
      'function thread_done() C.close(a[1]); C.close(b[0]); C.waitpid(pid, nil, 0) end',
    ],
  },
];

/**
 * Console commands that write `lines` (no single quotes) to `path`: as few printf commands as
 * keep each within CONSOLE_LINE_MAX, the first truncating the file, the rest appending.
 */
export function writeFileCommands(lines: string[], path: string): string[] {
  const printf = (batch: string[], redirect: '>' | '>>'): string => `printf '%s\\n' ${batch.map((l) => `'${l}'`).join(' ')} ${redirect} ${path}`;
  const out: string[] = [];
  let batch: string[] = [];
  for (const line of lines) {
    if (batch.length && printf([...batch, line], '>>').length > CONSOLE_LINE_MAX) {
      out.push(printf(batch, out.length ? '>>' : '>'));
      batch = [];
    }
    batch.push(line);
  }
  if (batch.length) out.push(printf(batch, out.length ? '>>' : '>'));
  return out;
}

/** The commands that write the Lua probes into /tmp (run before osOverheadScript). */
export function osProbeFileScripts(): string[] {
  return PROBE_FILES.flatMap((f) => writeFileCommands(f.lua, f.path));
}

/**
 * Each probe under sysbench, one thread (threads: 2, so its lock and yield switch between
 * them); the Lua probes from the files osProbeFileScripts wrote. One line, so it types into
 * a serial console as it is.
 */
export function osOverheadScript(seconds: number): string {
  const s = checkSeconds(seconds);
  return [
    'cd /tmp',
    `echo '== cpu'`, `sysbench cpu --threads=1 --time=${s} run 2>&1`,
    `echo '== memory'`, `sysbench memory --threads=1 --time=${s} run 2>&1`,
    `echo '== threads'`, `sysbench threads --threads=2 --time=${s} run 2>&1`,
    `echo '== syscall'`, `sysbench ${SYSCALL_LUA} --threads=1 --time=${s} run 2>&1`,
    `echo '== context-switch'`, `sysbench ${CTXSW_LUA} --threads=1 --time=${s} run 2>&1`,
    `rm -f ${SYSCALL_LUA} ${CTXSW_LUA}`,
  ].join('; ');
}

// ---------------------------------------------------------------- network

/** iperf3 -l: the message sizes of the bandwidth curve, in bytes. */
export const MESSAGE_SIZES = [1024, 8192, 65536, 131072] as const;
export const IPERF_PORT = 5201;
export const IPERF_PID = '/tmp/vlx-iperf3.pid';
export const PING_COUNT = 5;

export const NETWORK_PAIRS = ['vm-vm same node', 'vm-vm across nodes', 'node-node', 'vm-outside'] as const;
export type NetworkPair = (typeof NETWORK_PAIRS)[number];

export function iperfServerScript(): string {
  return `kill $(cat ${IPERF_PID} 2>/dev/null) 2>/dev/null; rm -f ${IPERF_PID}; iperf3 -s -D -p ${IPERF_PORT} --pidfile ${IPERF_PID}; sleep 0.3`;
}

export function iperfStopScript(): string {
  return `kill $(cat ${IPERF_PID} 2>/dev/null) 2>/dev/null; rm -f ${IPERF_PID}; true`;
}

/**
 * From the client's side: ping for the latency, then iperf3 per message size. ping is
 * busybox's on both sides (the guest's applet, `busybox ping` on a node). bandwidth: false
 * for a peer with no iperf3 server (latency only).
 */
export function networkClientScript(peer: string, seconds: number, opts: { ping: string; bandwidth: boolean }): string {
  const ip = checkAddress(peer, 'peer');
  const s = checkSeconds(seconds);
  const parts = [`echo '== ping'`, `${opts.ping} -c ${PING_COUNT} -i 0.2 ${ip} 2>&1`];
  if (opts.bandwidth) {
    for (const l of MESSAGE_SIZES) parts.push(`echo '== bw:${l}'`, `iperf3 -c ${ip} -p ${IPERF_PORT} --connect-timeout 5000 -t ${s} -l ${l} -f m 2>&1`);
  }
  return parts.join('; ');
}

// ---------------------------------------------------------------- storage

/** Reads first: sysbench's seqwr rewrites the file from its start and leaves it as long as the time allowed. */
export const STORAGE_MODES = ['seqrd', 'rndrd', 'rndwr', 'seqwr'] as const;
export const STORAGE_TARGETS = ['vm overlay', 'vc shared', 'node raw'] as const;
/** Small enough for the guest, large enough that O_DIRECT requests reach the disk. */
export const FILEIO_SIZE = '32M';
/** Where the guest mounts a fresh ext2 on its own overlay disk (busybox mke2fs; ext4's driver mounts it). */
export const GUEST_BENCH_MOUNT = '/mnt/vlx-bench';

export function guestDiskPrepScript(device = '/dev/vda'): string {
  if (!/^\/dev\/[a-z0-9]+$/.test(device)) throw invalid('device', 'must be a /dev/ block device name', device);
  return `mkdir -p ${GUEST_BENCH_MOUNT}; grep -q ' ${GUEST_BENCH_MOUNT} ' /proc/mounts || { mke2fs -q ${device} >/dev/null 2>&1; mount -t ext2 ${device} ${GUEST_BENCH_MOUNT}; }; grep -q ' ${GUEST_BENCH_MOUNT} ' /proc/mounts && echo vlx-disk-ok`;
}

/**
 * sysbench fileio with O_DIRECT (the page cache would measure memory) in `dir`: one file
 * written once, then each mode for `seconds`; the directory is removed at the end.
 */
export function storageScript(dir: string, seconds: number): string {
  if (!/^\/[A-Za-z0-9._/-]+$/.test(dir)) throw invalid('directory', 'must be an absolute path of letters, digits, ".", "_", "-" and "/"', dir);
  const s = checkSeconds(seconds);
  const base = `sysbench fileio --file-total-size=${FILEIO_SIZE} --file-num=1`;
  const modes = STORAGE_MODES.map((m) => `echo '== ${m}'; ${base} --file-test-mode=${m} --file-extra-flags=direct --time=${s} run 2>&1`);
  return [`mkdir -p ${dir}`, `cd ${dir}`, `${base} prepare >/dev/null 2>&1`, ...modes, 'cd /', `rm -rf ${dir}`].join('; ');
}

// ---------------------------------------------------------------- reading results

/** value(vm) / value(node) for each probe both have: the overhead's ratio (1 = none). */
export function ratios(values: ExperimentValue[], over: string, under: string): { probe: string; ratio: number }[] {
  const out: { probe: string; ratio: number }[] = [];
  for (const a of values.filter((v) => v.target === over)) {
    const b = values.find((v) => v.target === under && v.probe === a.probe && v.param === a.param);
    if (b && b.value > 0) out.push({ probe: a.probe + (a.param ? ` ${a.param}` : ''), ratio: a.value / b.value });
  }
  return out;
}

export const CSV_COLUMNS = ['run_id', 'kind', 'probe', 'target', 'param', 'value', 'unit', 'vc', 'vc_size', 'placement', 'accel', 'image', 'date'] as const;

function csvField(v: string | number): string {
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** RFC 4180 CSV of the rows, a header first: the same text from the CLI and from every chart. */
export function experimentsCsv(rows: ExperimentRow[]): string {
  const lines = [CSV_COLUMNS.join(',')];
  for (const r of rows) {
    lines.push([r.runId, r.kind, r.probe, r.target, r.param, r.value, r.unit, r.vc, r.vcSize, r.placement, r.accel, r.image, r.date].map(csvField).join(','));
  }
  return lines.join('\r\n') + '\r\n';
}

/**
 * The VM pairs a placement allows: two VMs on one node, and two on different nodes (the first
 * such pair in VM order). A pair the placement cannot form is absent, never invented.
 */
export function pickPairs<V extends { name: string; node: string | null }>(vms: V[]): { same?: [V, V]; across?: [V, V] } {
  const out: { same?: [V, V]; across?: [V, V] } = {};
  for (const [i, a] of vms.entries()) {
    for (const b of vms.slice(i + 1)) {
      if (!a.node || !b.node) continue;
      if (a.node === b.node) out.same ??= [a, b];
      else out.across ??= [a, b];
    }
  }
  return out;
}
