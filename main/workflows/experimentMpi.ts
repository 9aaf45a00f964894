import { VlxError } from '../errors.js';
import {
  MPI_ALLREDUCE_SIZES, MPI_MIN_MEM_MB, MPI_PAIRS, MPI_SIZES, dropbearStartScript, mpiCleanupScript, mpiHostfileScripts, mpiKeygenScript, mpirunScript, readMpi,
  type MpiPair,
} from '../domain/experimentMpi.js';
import { checkSeconds, pickPairs, type ExperimentValue } from '../domain/experiments.js';
import type { Log, Progress, Runner } from './experimentKinds.js';

/**
 * The mpi kind: every VM of the VC is one rank. Per run: a key pair on the first VM, its
 * public key authorized and dropbear started on every VM, mpirun on the first VM launching
 * orted on the others over dbclient, and afterwards (whatever happened) no server and no key
 * left in any guest.
 */

export interface MpiVm {
  name: string;
  node: string;
  ip: string;
  runner: Runner;
}

/** The VC's memory per VM, checked before anything runs. */
export function checkMpiMemory(memMb: number): void {
  if (memMb < MPI_MIN_MEM_MB) {
    throw new VlxError('invalid-input', `memMb: the mpi experiment needs VMs of at least ${MPI_MIN_MEM_MB} MB (this VC's have ${memMb} MB): the bench guest with Open MPI does not boot in less`, `make a VC with --mem ${MPI_MIN_MEM_MB} or more`);
  }
}

/** The rank pairs the placement allows (rank i = VM i): a pair it cannot form is said in the log, not invented. */
export function mpiPairs(vms: { name: string; node: string | null }[], log: Log): Partial<Record<MpiPair, [number, number]>> {
  const { same, across } = pickPairs(vms);
  const rank = (v: { name: string }): number => vms.findIndex((x) => x.name === v.name);
  const out: Partial<Record<MpiPair, [number, number]>> = {};
  if (across) out.across = [rank(across[0]), rank(across[1])];
  else log('ping-pong across nodes: every VM of this VC is on one node (placement block?): skipped');
  if (same) out.same = [rank(same[0]), rank(same[1])];
  else log('ping-pong same node: no two VMs of this VC share a node (placement cyclic?): skipped');
  return out;
}

export async function runMpi(vms: MpiVm[], seconds: number, log: Log, progress: Progress): Promise<ExperimentValue[]> {
  if (vms.length < 2) throw new VlxError('invalid-input', `vc: the mpi experiment needs at least 2 VMs (this VC has ${vms.length})`, 'vlx vc create … --nodes 2 (or more)');
  const s = checkSeconds(seconds);
  const [first] = vms;
  const pairs = mpiPairs(vms, log);
  try {
    progress(0, `key pair on ${first!.name}, dropbear on ${vms.length} VMs`);
    const keyOut = await first!.runner.run(mpiKeygenScript(), 60_000);
    const pub = keyOut.split('\n').find((l) => l.startsWith('ssh-ed25519 '));
    if (!pub) throw new VlxError('remote-failed', `${first!.name}: dropbearkey made no key: ${JSON.stringify(keyOut.trim().slice(-300))}`);
    await Promise.all(vms.map(async (vm) => {
      const out = await vm.runner.run(dropbearStartScript(vm.ip, pub), 60_000);
      if (!out.includes('vlx-dropbear-up')) throw new VlxError('remote-failed', `${vm.name}: dropbear did not start: ${JSON.stringify(out.trim().slice(-300))}`);
    }));
    for (const line of mpiHostfileScripts(vms.map((v) => v.ip))) await first!.runner.run(line, 30_000);
    progress(0.1, `mpirun: ${vms.length} ranks, ${Object.keys(pairs).length} ping-pong pair(s) and allreduce, ${MPI_SIZES.length} sizes`);
    const started = Date.now();
    // The probe keeps to `seconds`; the launch over SSH and the warm-ups come on top (several seconds under TCG).
    const text = await first!.runner.run(mpirunScript({ hosts: vms.map((v) => v.ip), pairs, seconds: s }), (s * 3 + 120) * 1000);
    const values = readMpi(text, { ranks: vms.length, pairs: Object.keys(pairs) as MpiPair[] });
    log(`mpirun took ${((Date.now() - started) / 1000).toFixed(1)} s for ${vms.length} ranks (${vms.map((v) => `${v.name}@${v.node}`).join(' ')})`);
    for (const name of Object.keys(pairs) as MpiPair[]) {
      const at = (probe: string, size: number): string => values.find((v) => v.probe === probe && v.target === MPI_PAIRS[name] && v.param === String(size))!.value.toPrecision(4);
      log(`ping-pong ${MPI_PAIRS[name]}: ${at('pingpong latency', 1)} us at 1 B, ${at('pingpong bandwidth', 1048576)} MB/s at 1 MiB`);
    }
    const ar = (size: number): string => values.find((v) => v.probe === 'allreduce' && v.param === String(size))!.value.toPrecision(4);
    log(`allreduce over ${vms.length} VMs: ${ar(MPI_ALLREDUCE_SIZES[0]!)} us at ${MPI_ALLREDUCE_SIZES[0]} B, ${ar(1048576)} us at 1 MiB`);
    return values;
  } finally {
    await Promise.all(vms.map((vm) => vm.runner.run(mpiCleanupScript(), 30_000).catch((e: Error) => log(`${vm.name}: cleanup failed: ${e.message}`))));
  }
}
