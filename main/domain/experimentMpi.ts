import { invalid } from '../errors.js';
import { checkAddress } from '../util/names.js';
import { checkSeconds, writeFileCommands, type ExperimentValue } from './experiments.js';
import { missing, mpibenchLines } from './experimentParse.js';

/**
 * The mpi experiment (report §6, IMB-style curves): our probe (images/bench/mpibench.c) under
 * Open MPI across every VM of the VC, one rank per VM, launched over SSH (dropbear in the
 * bench guest, a key pair made per run). Pure: the scripts the workflow types into the
 * guests' consoles, and the values read from the probe's lines.
 */

/** Ping-pong message sizes, 1 B to 1 MiB in powers of 4; allreduce takes those of whole doubles (16 B up). */
export const MPI_SIZES = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576] as const;
export const MPI_ALLREDUCE_SIZES = MPI_SIZES.filter((s) => s % 8 === 0);
/** The probe's names for the pairs (one word each) and the targets stored for them. */
export const MPI_PAIRS = { across: 'across nodes', same: 'same node' } as const;
export type MpiPair = keyof typeof MPI_PAIRS;
/** Below this the bench guest does not boot (its initramfs and the unpacking need it); measured ~33 MB free after boot at 128. */
export const MPI_MIN_MEM_MB = 128;
/** The guest's interface on the VC subnet (tinyInit.ts configures eth0). */
export const MPI_IFACE = 'eth0';
export const MPI_KEY = '/tmp/vlx-mpi-key';
export const MPI_HOSTFILE = '/tmp/vlx-mpi-hosts';
export const DROPBEAR_PID = '/run/vlx-dropbear.pid';
const AUTHORIZED = '/root/.ssh/authorized_keys';

export const allreduceTarget = (ranks: number): string => `all ${ranks} VMs`;

/** Seconds per measured size: the run's budget over every size it measures, so the whole probe takes about `seconds`. */
export function secondsPerSize(seconds: number, pairs: number): number {
  const s = checkSeconds(seconds);
  return s / (pairs * MPI_SIZES.length + MPI_ALLREDUCE_SIZES.length);
}

/** A public key line of dropbearkey -y: "ssh-ed25519 BASE64 comment", nothing a shell would read otherwise. */
export function checkPublicKey(line: string): string {
  const key = line.trim();
  if (!/^ssh-ed25519 [A-Za-z0-9+/=]+( [A-Za-z0-9@._-]+)?$/.test(key)) throw invalid('publicKey', 'must be one "ssh-ed25519 BASE64 [comment]" line', key.slice(0, 200));
  return key;
}

/** On the first VM: a fresh key pair for this run; prints its public key line. */
export function mpiKeygenScript(): string {
  return `rm -f ${MPI_KEY}; dropbearkey -t ed25519 -f ${MPI_KEY} >/dev/null 2>&1; dropbearkey -y -f ${MPI_KEY} | grep '^ssh-ed25519 '`;
}

/**
 * On every VM: authorize the run's key, and start dropbear on the VC address (host keys made
 * on demand, -R; key logins only, no forwarding). The old server of a run that died is stopped first.
 */
export function dropbearStartScript(address: string, publicKey: string): string {
  const ip = checkAddress(address, 'address');
  const key = checkPublicKey(publicKey);
  return [
    `kill $(cat ${DROPBEAR_PID} 2>/dev/null) 2>/dev/null`,
    'mkdir -p /etc/dropbear /root/.ssh', 'chmod 700 /root/.ssh',
    `echo '${key}' > ${AUTHORIZED}`, `chmod 600 ${AUTHORIZED}`,
    `dropbear -R -s -j -k -P ${DROPBEAR_PID} -p ${ip}:22`,
    `sleep 0.2; kill -0 $(cat ${DROPBEAR_PID} 2>/dev/null) 2>/dev/null && echo vlx-dropbear-up`,
  ].join('; ');
}

/**
 * After the run, on every VM (also after a failure): no server, no key, no host key left
 * behind. Every dropbear (the guest runs none of its own): the listener's session children too.
 */
export function mpiCleanupScript(): string {
  return [
    'for p in $(pidof dropbear); do kill $p; done',
    'i=0; while pidof dropbear >/dev/null && [ $i -lt 20 ]; do sleep 0.1; i=$((i+1)); done',
    `rm -f ${DROPBEAR_PID} ${AUTHORIZED} ${MPI_KEY} ${MPI_HOSTFILE} /etc/dropbear/*`, 'true',
  ].join('; ');
}

export interface MpiRunPlan {
  /** VC addresses, one rank per VM in this order (rank i runs on hosts[i]). */
  hosts: string[];
  /** Rank pairs by name, e.g. across: [0, 1]. */
  pairs: Partial<Record<MpiPair, [number, number]>>;
  seconds: number;
}

/**
 * On the first VM, before mpirun: the hostfile, one VM a line with one slot (rank i on line
 * i), written in as few console commands as keep each within CONSOLE_LINE_MAX.
 */
export function mpiHostfileScripts(hosts: string[]): string[] {
  if (hosts.length < 2) throw invalid('hosts', 'the mpi experiment needs at least 2 VMs', hosts.length);
  const lines = hosts.map((h, i) => `${checkAddress(h, `hosts[${i}]`)} slots=1`);
  return writeFileCommands(lines, MPI_HOSTFILE);
}

/**
 * On the first VM, after mpiHostfileScripts: mpirun over dbclient. The parameters that depend
 * on the VC are on the command line; the image's params file pins the components (images/benchMpi.ts).
 */
export function mpirunScript(plan: MpiRunPlan): string {
  if (plan.hosts.length < 2) throw invalid('hosts', 'the mpi experiment needs at least 2 VMs', plan.hosts.length);
  const n = plan.hosts.length;
  const pairs = Object.entries(plan.pairs).map(([name, p]) => {
    if (!(name in MPI_PAIRS)) throw invalid('pairs', `must be ${Object.keys(MPI_PAIRS).join(' or ')}`, name);
    const [a, b] = p!;
    if (![a, b].every((r) => Number.isInteger(r) && r >= 0 && r < n) || a === b) throw invalid(`pairs.${name}`, `must be two different ranks from 0 to ${n - 1}`, p);
    return `-p ${name}:${a}:${b}`;
  });
  const perSize = secondsPerSize(plan.seconds, pairs.length).toFixed(4);
  return [
    'cd /tmp',
    `mpirun --allow-run-as-root --hostfile ${MPI_HOSTFILE} -np ${n}`
      + ` --mca plm_rsh_agent 'dbclient -y -y -i ${MPI_KEY}' --mca btl_tcp_if_include ${MPI_IFACE} --mca oob_tcp_if_include ${MPI_IFACE}`
      + ` mpibench -t ${perSize} -s ${MPI_SIZES.join(',')} ${pairs.join(' ')} 2>&1`,
  ].join('; ');
}

/** The probe's output as stored values; every pair and size, and the allreduce's, must be in it. */
export function readMpi(text: string, plan: { ranks: number; pairs: MpiPair[] }): ExperimentValue[] {
  const lines = mpibenchLines(text);
  const quote = (what: string): Error => missing(what, text);
  const out: ExperimentValue[] = [];
  for (const name of plan.pairs) {
    for (const size of MPI_SIZES) {
      const l = lines.find((x) => x.kind === 'pingpong' && x.pair === name && x.size === size);
      if (!l || l.kind !== 'pingpong') throw quote(`ping-pong ${name} ${size} B`);
      out.push({ probe: 'pingpong latency', target: MPI_PAIRS[name], param: String(size), value: l.usec, unit: 'us' });
      out.push({ probe: 'pingpong bandwidth', target: MPI_PAIRS[name], param: String(size), value: l.mbps, unit: 'MB/s' });
    }
  }
  for (const size of MPI_ALLREDUCE_SIZES) {
    const l = lines.find((x) => x.kind === 'allreduce' && x.size === size);
    if (!l || l.kind !== 'allreduce') throw quote(`allreduce ${size} B`);
    if (l.ranks !== plan.ranks) throw quote(`allreduce over ${plan.ranks} ranks (it ran on ${l.ranks})`);
    out.push({ probe: 'allreduce', target: allreduceTarget(plan.ranks), param: String(size), value: l.usec, unit: 'us' });
  }
  return out;
}
