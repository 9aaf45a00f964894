import { posix } from 'node:path';
import { NODE_LIB, NODE_RUN } from '../config/paths.js';
import { VlxError } from '../errors.js';
import type { CommandRunner } from '../images/local.js';
import { sh } from '../util/quote.js';
import { storagePaths } from '../domain/storagePaths.js';
import { KVM_ACCEL, TCG_ACCEL, checkPath, type AccelArgs } from './qemuArgs.js';
import { READY_MARKER } from './serial.js';

/**
 * Whether KVM really works on a node. /dev/kvm existing is not enough: some hosts (nested
 * or paravirtual KVM) expose it yet stock guest kernels abort or hang on it (LAB-NOTES).
 * So the tiny guest is booted with KVM for a few seconds and must print its readiness
 * marker. The verdict is cached on the node, where `vlx nodes` reads it.
 */
export interface KvmVerdict {
  usable: boolean;
  checkedAt: string;
  reason: string;
  accel: AccelArgs;
}

export const KVM_CACHE = posix.join(NODE_LIB, 'kvm.json');

export interface ProbeOptions {
  /** The tiny image's kernel and initrd as paths on that node. */
  kernel: string;
  initrd: string;
  /** Ignore a cached verdict. */
  force?: boolean;
  /** A KVM guest shows the marker in well under a second; this bounds a hang. */
  bootSeconds?: number;
  runDir?: string;
  cacheFile?: string;
  log?: (line: string) => void;
}

function parseVerdict(text: string): KvmVerdict | undefined {
  try {
    const v = JSON.parse(text) as Partial<KvmVerdict>;
    if (typeof v.usable !== 'boolean' || typeof v.checkedAt !== 'string') return undefined;
    return { usable: v.usable, checkedAt: v.checkedAt, reason: String(v.reason ?? ''), accel: v.usable ? KVM_ACCEL : TCG_ACCEL };
  } catch {
    return undefined;
  }
}

/** The shell script that boots the probe guest once and reports what happened on stdout. */
export function probeScript(o: { kernel: string; initrd: string; runDir: string; bootSeconds: number }): string {
  const dir = checkPath(o.runDir, 'runDir');
  const log = `${dir}/kvm-probe.serial`;
  const pid = `${dir}/kvm-probe.pid`;
  const err = `${dir}/kvm-probe.err`;
  const qemu = sh(
    'qemu-system-x86_64', '-daemonize', '-pidfile', pid, '-display', 'none', '-nodefaults', '-no-reboot',
    '-machine', 'pc,accel=kvm', '-cpu', 'host', '-m', '128',
    '-kernel', checkPath(o.kernel, 'kernel'), '-initrd', checkPath(o.initrd, 'initrd'),
    '-append', 'console=ttyS0 panic=-1 vlx.name=kvm-probe',
    '-serial', `file:${log}`,
  );
  const tries = Math.max(1, Math.round(o.bootSeconds * 5));
  return [
    `mkdir -p ${sh(dir)}; rm -f ${sh(log)} ${sh(pid)} ${sh(err)}`,
    `if [ ! -c /dev/kvm ]; then echo 'verdict no /dev/kvm is missing'; exit 0; fi`,
    `if ! ${qemu} 2>${sh(err)}; then echo "verdict no QEMU refused KVM: $(tail -c 300 ${sh(err)} | tr '\\n' ' ')"; exit 0; fi`,
    `i=0; while [ $i -lt ${tries} ]; do grep -q ${sh(READY_MARKER)} ${sh(log)} 2>/dev/null && break; kill -0 "$(cat ${sh(pid)} 2>/dev/null)" 2>/dev/null || break; sleep 0.2; i=$((i+1)); done`,
    `p=$(cat ${sh(pid)} 2>/dev/null); [ -n "$p" ] && kill -9 "$p" 2>/dev/null`,
    `if grep -q ${sh(READY_MARKER)} ${sh(log)} 2>/dev/null; then echo 'verdict yes the tiny guest booted under KVM with -cpu host';`,
    `elif [ -s ${sh(err)} ]; then echo "verdict no QEMU stopped: $(tail -c 300 ${sh(err)} | tr '\\n' ' ')";`,
    `else echo "verdict no the guest did not boot under KVM within ${o.bootSeconds} s (last console line: $(tail -n 1 ${sh(log)} 2>/dev/null | tr -d '\\r' | cut -c1-120))"; fi`,
    `rm -f ${sh(pid)}`,
  ].join('\n');
}

export async function probeKvm(run: CommandRunner, opts: ProbeOptions): Promise<KvmVerdict> {
  const cacheFile = checkPath(opts.cacheFile ?? KVM_CACHE, 'cacheFile');
  const log = opts.log ?? (() => undefined);
  if (!opts.force) {
    const r = await run.exec(sh('cat', cacheFile));
    const cached = r.code === 0 ? parseVerdict(r.stdout) : undefined;
    if (cached) return cached;
  }
  const out = await run.run(probeScript({ kernel: opts.kernel, initrd: opts.initrd, runDir: opts.runDir ?? NODE_RUN, bootSeconds: opts.bootSeconds ?? 15 }), {
    timeoutMs: ((opts.bootSeconds ?? 15) + 30) * 1000,
  });
  const m = out.match(/^verdict (yes|no) (.*)$/m);
  if (!m) throw new VlxError('internal', `${run.name}: KVM probe printed no verdict: ${out.slice(-300)}`);
  const verdict: KvmVerdict = { usable: m[1] === 'yes', checkedAt: new Date().toISOString(), reason: m[2], accel: m[1] === 'yes' ? KVM_ACCEL : TCG_ACCEL };
  if (!verdict.usable) log(`warning: ${run.name}: KVM not usable (${verdict.reason}); VMs there run under TCG emulation, much slower`);
  await run.run(`${sh('mkdir', '-p', posix.dirname(cacheFile))} && cat > ${sh(`${cacheFile}.tmp`)} && ${sh('mv', '-f', `${cacheFile}.tmp`, cacheFile)}`, {
    stdin: JSON.stringify({ usable: verdict.usable, checkedAt: verdict.checkedAt, reason: verdict.reason }, null, 2) + '\n',
  });
  return verdict;
}

/**
 * Probe a cluster node with the tiny image on shared storage. Without that image there is
 * nothing to boot: the answer is TCG for now, and it is not cached, so the next call after
 * `vlx image build tiny` probes for real.
 */
export async function probeNodeKvm(run: CommandRunner, opts: { image?: string; root?: string; force?: boolean; log?: (line: string) => void } = {}): Promise<KvmVerdict> {
  const img = storagePaths(opts.root).image(opts.image ?? 'tiny');
  const have = await run.exec(`${sh('test', '-r', img.kernel)} && ${sh('test', '-r', img.initrd)}`);
  if (have.code !== 0) {
    const cached = opts.force ? undefined : await run.exec(sh('cat', KVM_CACHE)).then((r) => (r.code === 0 ? parseVerdict(r.stdout) : undefined));
    if (cached) return cached;
    const reason = `not probed: no ${opts.image ?? 'tiny'} image on shared storage to boot (vlx image build tiny)`;
    (opts.log ?? (() => undefined))(`warning: ${run.name}: ${reason}; using TCG`);
    return { usable: false, checkedAt: new Date().toISOString(), reason, accel: TCG_ACCEL };
  }
  return probeKvm(run, { kernel: img.kernel, initrd: img.initrd, force: opts.force, log: opts.log });
}
