import { VlxError } from '../errors.js';
import type { VcEnv } from '../cluster/env.js';
import { getVc, vmsOf, type VmRow } from '../cluster/repo.js';
import { storeRun } from '../cluster/experimentsRepo.js';
import { vmRuntimePaths } from '../domain/addressing.js';
import { checkKind, checkSeconds, pickPairs, type ExperimentKind, type ExperimentValue } from '../domain/experiments.js';
import { checkAddress, checkName } from '../util/names.js';
import type { NodeConn } from '../ssh/types.js';
import type { StepContext, WorkflowDef } from '../tasks/types.js';
import { accelFor } from '../vm/vmOps.js';
import { SerialConsole } from '../vm/serial.js';
import { guestRunner, nodeRunner, runNetwork, runOsOverhead, runStorage, type PairPlan, type Runner } from './experimentKinds.js';
import { checkMpiMemory, runMpi } from './experimentMpi.js';

export interface ExperimentRequest {
  kind: ExperimentKind;
  vc: string;
  seconds: number;
  /** The peer of the VM↔outside pair (the lab's outside is 203.0.113.1); without it that pair is skipped. */
  outside?: string;
}

export function checkExperimentRequest(r: { kind: unknown; vc: unknown; seconds: unknown; outside?: unknown }): ExperimentRequest {
  return {
    kind: checkKind(r.kind),
    vc: checkName('vc', r.vc, 'vc'),
    seconds: checkSeconds(r.seconds),
    ...(r.outside !== undefined ? { outside: checkAddress(r.outside, 'outside') } : {}),
  };
}

/** The tools every probe needs on the node and in the guest, checked before the first one runs so a missing one fails with its name. */
const NEEDS: Record<ExperimentKind, { node: string[]; guest: string[] }> = {
  'os-overhead': { node: ['sysbench'], guest: ['sysbench'] },
  network: { node: ['iperf3'], guest: ['iperf3'] },
  storage: { node: ['sysbench'], guest: ['sysbench'] },
  // Only the guests run MPI.
  mpi: { node: [], guest: ['mpirun', 'orted', 'mpibench', 'dropbear', 'dbclient', 'dropbearkey'] },
};

/**
 * One run of an experiment on a running VC: check that it can run, measure, store the values
 * with the run's facts in one transaction. The VC's lock is held throughout, so the VC is
 * not stopped or moved under a probe. Re-running measures again (a value is only stored whole).
 */
export function experimentWorkflow(env: VcEnv, req: ExperimentRequest): WorkflowDef {
  const { kind, vc, seconds } = req;
  return {
    kind: `experiment.${kind}`,
    target: vc,
    params: { ...req },
    lockKey: `vc:${vc}`,
    steps: [{
      name: 'measure',
      run: async (ctx) => {
        const started = Date.now();
        const vms = await runningVms(env, vc);
        if (kind === 'mpi') checkMpiMemory((await getVc(env.db, vc)).memMb);
        const serials = new Map<string, SerialConsole>();
        try {
          const runnerOf = async (vm: VmRow): Promise<Runner> => {
            let s = serials.get(vm.name);
            if (!s) {
              const conn = await env.session.node(vm.node!);
              s = new SerialConsole(await conn.openUnixSocket(vmRuntimePaths(vc, vm.name).serial), `${vc}/${vm.name}`);
              serials.set(vm.name, s);
              // A fresh prompt: whatever was typed on the console before is not our command's output.
              s.write('\n');
            }
            return guestRunner(vm.name, vm.ip, s);
          };
          const first = vms[0]!;
          const firstConn = await env.session.node(first.node!);
          await checkTools(firstConn, await runnerOf(first), NEEDS[kind]);
          const values = await measure(env, req, vms, runnerOf, firstConn, ctx);
          if (values.length === 0) throw new VlxError('remote-failed', `${kind}: no probe gave a value`);
          const accel = (await accelFor(env, firstConn, ctx.log)).accel;
          const vcRow = await getVc(env.db, vc);
          const placement = Object.fromEntries(vms.map((v) => [v.name, v.node!]));
          const id = await storeRun(env.db, { taskId: ctx.taskId, kind, vc, vcSize: vms.length, placement, accel, image: vcRow.image, seconds }, values);
          ctx.progress(1, `run ${id}`);
          ctx.log(`stored as run ${id}: ${values.length} values (${accel}, image ${vcRow.image}); the experiment took ${((Date.now() - started) / 1000).toFixed(1)} s`);
        } finally {
          for (const s of serials.values()) s.close();
        }
      },
    }],
  };
}

async function runningVms(env: VcEnv, vc: string): Promise<VmRow[]> {
  const row = await getVc(env.db, vc);
  const vms = await vmsOf(env.db, vc);
  const notRunning = vms.filter((v) => v.state !== 'running' || !v.node);
  if (row.state !== 'running' || notRunning.length > 0 || vms.length === 0) {
    throw new VlxError('conflict', `vc: ${vc} must be running with every VM up (VC ${row.state}${notRunning.length ? `; not running: ${notRunning.map((v) => v.name).join(', ')}` : ''})`, `vlx vc start ${vc}`);
  }
  return vms;
}

async function checkTools(node: NodeConn, guest: Runner, tools: { node: string[]; guest: string[] }): Promise<void> {
  const probeOf = (names: string[]): string => names.map((t) => `command -v ${t} >/dev/null || echo "missing ${t}"`).join('; ') + '; echo vlx-tools-checked';
  if (tools.node.length > 0) {
    const onNode = await node.exec(probeOf(tools.node));
    const nodeMissing = [...onNode.stdout.matchAll(/missing (\S+)/g)].map((m) => m[1]);
    if (nodeMissing.length) throw new VlxError('not-found', `node ${node.name} has no ${nodeMissing.join(', ')}`, `install the Debian package(s) ${nodeMissing.join(' ')} on the nodes`);
  }
  const inGuest = await guest.run(probeOf(tools.guest), 30_000);
  if (!inGuest.includes('vlx-tools-checked')) throw new VlxError('remote-failed', `${guest.label}: its console did not answer: ${inGuest.slice(-200)}`);
  const guestMissing = [...inGuest.matchAll(/missing (\S+)/g)].map((m) => m[1]);
  if (guestMissing.length) throw new VlxError('not-found', `the VC's image has no ${guestMissing.join(', ')} (VM ${guest.label})`, 'create the VC from the bench image: `vlx image build tiny-bench`, then `vlx vc create … --image tiny-bench`');
}

async function measure(env: VcEnv, req: ExperimentRequest, vms: VmRow[], runnerOf: (vm: VmRow) => Promise<Runner>, firstConn: NodeConn, ctx: StepContext): Promise<ExperimentValue[]> {
  const { kind, seconds } = req;
  const progress = (f: number, note: string): void => ctx.progress(f, note);
  const first = vms[0]!;
  if (kind === 'os-overhead') return runOsOverhead(nodeRunner(firstConn), await runnerOf(first), seconds, ctx.log, progress);
  if (kind === 'mpi') {
    const ranks = await Promise.all(vms.map(async (vm) => ({ name: vm.name, node: vm.node!, ip: vm.ip, runner: await runnerOf(vm) })));
    return runMpi(ranks, seconds, ctx.log, progress);
  }
  if (kind === 'storage') {
    const dir = `/.vlx-bench-${req.vc}`;
    return runStorage({
      vm: await runnerOf(first), node: nodeRunner(firstConn),
      rawDir: `${env.paths.root}${dir}`, sharedDir: `/shared${dir}-${first.name}`,
    }, seconds, ctx.log, progress);
  }
  return runNetwork(await networkPlans(env, req, vms, runnerOf, ctx.log), seconds, ctx.log, progress);
}

/** Which pairs this VC's placement allows: a pair it cannot form is said in the log, not invented. */
async function networkPlans(env: VcEnv, req: ExperimentRequest, vms: VmRow[], runnerOf: (vm: VmRow) => Promise<Runner>, log: (l: string) => void): Promise<PairPlan[]> {
  const plans: PairPlan[] = [];
  const { same, across } = pickPairs(vms);
  if (same) plans.push({ pair: 'vm-vm same node', client: await runnerOf(same[0]), server: await runnerOf(same[1]), peer: same[1].ip });
  else log('vm-vm same node: no two VMs of this VC share a node (placement cyclic?): skipped');
  if (across) plans.push({ pair: 'vm-vm across nodes', client: await runnerOf(across[0]), server: await runnerOf(across[1]), peer: across[1].ip });
  else log('vm-vm across nodes: every VM of this VC is on one node (placement block?): skipped');
  const a = vms[0]!.node!;
  const b = vms.find((v) => v.node !== a)?.node ?? env.session.nodes().map((n) => n.name).find((n) => n !== a);
  if (b) {
    const [ca, cb] = await Promise.all([env.session.node(a), env.session.node(b)]);
    plans.push({ pair: 'node-node', client: nodeRunner(ca), server: nodeRunner(cb), peer: cb.address });
  } else log('node-node: the cluster has one node: skipped');
  if (req.outside) plans.push({ pair: 'vm-outside', client: await runnerOf(vms[0]!), peer: req.outside });
  else log('vm-outside: no outside address given (--outside): skipped');
  return plans;
}
