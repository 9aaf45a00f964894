import { VlxError } from '../errors.js';
import type { StepContext, WorkflowDef } from '../tasks/types.js';
import { checkMove } from '../placement/place.js';
import { vmAddress, vmIndex } from '../domain/addressing.js';
import { getVc, setMapping, setVmState, vmsOf, type VcRow } from '../cluster/repo.js';
import { nodeAddress, placementNodes, type VcEnv } from '../cluster/env.js';
import { syncNetwork } from '../network/sync.js';
import { haltOnNode, migrateToNode, readImageMeta, restoreOnNode } from '../vm/vmOps.js';
import { settleVc, settleVm } from '../vm/settle.js';

/**
 * Moving one VM: a running VM migrates live, a saved one is restored on the new node
 * (relocation). One step that decides from what runs on the nodes, not from the row alone:
 * a move killed at any instant leaves a source and maybe a target QEMU, and the settle
 * (main/vm/settle, deciding with main/vm/migrationRecovery) keeps the one that holds the
 * guest before anything else happens. Re-running the same move converges.
 */
export interface MoveRequest {
  vc: string;
  vm: string;
  to: string;
}

const lockKey = (vc: string) => `vc:${vc}`;

export function moveWorkflow(env: VcEnv, req: MoveRequest): WorkflowDef {
  const { vc: name, vm, to } = req;
  return {
    kind: 'vm.move',
    target: `${name}/${vm}`,
    params: { to },
    lockKey: lockKey(name),
    steps: [{ name: 'move', run: (ctx) => move(env, name, vm, to, ctx) }],
  };
}

async function move(env: VcEnv, name: string, vm: string, to: string, ctx: StepContext): Promise<void> {
  const vc = await getVc(env.db, name);
  const row = (await vmsOf(env.db, name)).find((v) => v.name === vm);
  if (!row) throw new VlxError('not-found', `VC ${name} has no VM "${vm}"`);
  nodeAddress(env, to);
  if (row.state === 'saved' || row.state === 'restoring') return relocate(env, vc, vm, row.state, row.node, to, ctx);
  if (!row.node || !['running', 'migrating'].includes(row.state)) {
    throw new VlxError('conflict', `${name}/${vm} is ${row.state}: only a running or saved VM can move`, 'a stopped VM is placed when its VC starts');
  }

  // Where the guest is now, from the QEMUs themselves (an earlier move may have been cut anywhere).
  const settled = await settleVc(env, vc, [row], ctx.log);
  const holder = settled.holders.get(vm);
  if (!holder) {
    if (settled.unreachable.includes(row.node)) {
      throw new VlxError('remote-failed', `${name}/${vm}: its node ${row.node} does not answer: where it runs is unknown`, 'revive the node, or stop the VC');
    }
    await setVmState(env.db, name, [vm], 'error', 'running');
    await syncNetwork(env, { log: ctx.log });
    throw new VlxError('remote-failed', `${name}/${vm}: no QEMU holds its running state any more`, 'start the VC to boot it again');
  }
  if (holder !== row.node || row.state !== 'running') {
    await env.db.tx(async (q) => {
      await setMapping(q, name, { [vm]: holder });
      await setVmState(q, name, [vm], 'running', 'running');
    });
  }
  if (holder === to) {
    await syncNetwork(env, { log: ctx.log });
    return ctx.log(`${name}/${vm} is already on ${to}`);
  }
  if (row.state !== 'migrating' || holder !== row.node) {
    checkMove({ name: vm, vcpus: vc.vcpus, memMb: vc.memMb, node: holder }, to, await placementNodes(env, env.db, undefined), vc.mode);
  }

  const meta = await readImageMeta(env, vc.image);
  const t0 = Date.now();
  await setVmState(env.db, name, [vm], 'migrating');
  await syncNetwork(env, { extraTaps: [{ vc: name, vm, node: to }], tapsPending: true, log: ctx.log });
  let detail = '';
  try {
    const r = await migrateToNode(env, vc, meta, vm, holder, to, nodeAddress(env, to), ctx.log);
    detail = `: QEMU total ${r.totalTimeMs} ms, downtime ${r.downtimeMs} ms`;
  } catch (e) {
    // Which copy holds the guest decides whether the move failed, not the error we saw.
    const after = await settleVm(env, vc, vm, holder, to, ctx.log);
    if (after.holder !== to) {
      await setVmState(env.db, name, [vm], after.holder ? 'running' : 'error', 'running');
      await syncNetwork(env, { log: ctx.log });
      throw e;
    }
    detail = ` (${(e as Error).message.split('\n')[0]}; the guest had moved all the same)`;
  }
  await env.db.tx(async (q) => {
    await setMapping(q, name, { [vm]: to });
    await setVmState(q, name, [vm], 'running');
  });
  const tRoutes = (await syncNetwork(env, { log: ctx.log })).appliedAt - t0;
  await haltOnNode(env, vc, holder, [vm]);
  const addr = vmAddress(name, vc.subnet, vmIndex(vm));
  ctx.log(`moved ${name}/${vm} (${addr.ip}) ${holder} → ${to}${detail}; routes moved ${tRoutes} ms after start`);
}

/**
 * A saved VM goes to its new node by restoring its state there. A re-run after a kill finds
 * it 'restoring' on that node and finishes the restore (the launch script sees a QEMU that
 * is already there); a re-run towards another node is refused until it has landed.
 */
async function relocate(env: VcEnv, vc: VcRow, vm: string, state: string, node: string | null, to: string, ctx: StepContext): Promise<void> {
  const name = vc.name;
  if (state === 'saved' && node === to) return ctx.log(`${name}/${vm} is saved; its node is already ${to}`);
  if (state === 'restoring' && node && node !== to) {
    throw new VlxError('conflict', `${name}/${vm} is being restored on ${node}`, `re-run the move to ${node} first`);
  }
  if (state === 'saved') {
    checkMove({ name: vm, vcpus: vc.vcpus, memMb: vc.memMb, node: node ?? to }, to, await placementNodes(env, env.db, undefined), vc.mode);
    // One transaction: a kill between the two would leave the VM saved on its new node,
    // which a re-run could not tell from a saved VM already there (nothing to do).
    await env.db.tx(async (q) => {
      await setMapping(q, name, { [vm]: to });
      await setVmState(q, name, [vm], 'restoring');
    });
  }
  await syncNetwork(env, { tapsPending: true, log: ctx.log });
  await restoreOnNode(env, vc, await readImageMeta(env, vc.image), to, [vm], ctx.log);
  await setVmState(env.db, name, [vm], 'running', 'running');
  await syncNetwork(env, { log: ctx.log });
}
