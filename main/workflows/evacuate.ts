/**
 * Emptying a node (evacuation) and bringing its VMs back (restore), as task workflows with one
 * step per VM. Each step reads the VM's row first: a VM no longer on the node was moved by an
 * earlier run, so a resumed task continues where it stopped. Live moves run as the ordinary
 * move task of the VM's VC (its lock, its settle-from-QMP recovery); cold moves and stops take
 * the VC's lock here. What moved and what did not is written to the node's row after each VM,
 * so every face can say which VMs are left while the task runs and after it failed.
 */
import { VlxError, asVlxError } from '../errors.js';
import type { Step, StepContext, WorkflowDef } from '../tasks/types.js';
import { clearMapping, getVc, setMapping, setVmState, vmsOf } from '../cluster/repo.js';
import type { VcEnv } from '../cluster/env.js';
import { syncNetwork } from '../network/sync.js';
import { powerdownOnNode, readImageMeta } from '../vm/vmOps.js';
import { startOnNode } from '../vm/startOnNode.js';
import type { EvacuationMode, EvacuationStep } from '../placement/evacuate.js';
import { setAdminState, type EvacuationRecord } from '../health/lease.js';

export type Fallback = 'none' | 'cold' | 'stop';

export interface EvacuationDeps {
  /** Live-migrate (or relocate) one VM through the VC's own move task; throws with the task's error. */
  moveVm(vc: string, vm: string, to: string): Promise<void>;
}

const nodeLock = (node: string) => `node:${node}`;
const step = (name: string, run: (ctx: StepContext) => Promise<void>): Step => ({ name, run });

async function record(env: VcEnv, node: string, field: 'moved' | 'failed', entry: Record<string, string>): Promise<void> {
  await env.db.query(
    `update nodes set evacuation = jsonb_set(evacuation, $2::text[], coalesce(evacuation -> $3, '[]'::jsonb) || $4::jsonb) where name = $1`,
    [node, [field], field, JSON.stringify([entry])],
  );
}

async function readRecord(env: VcEnv, node: string): Promise<EvacuationRecord> {
  const r = await env.db.query<{ evacuation: EvacuationRecord }>('select evacuation from nodes where name = $1', [node]);
  return r.rows[0]?.evacuation ?? {};
}

/** Stop one VM cleanly (then hard), and with `to`, start it there: under the VC's lock. */
async function coldMove(env: VcEnv, vcName: string, vm: string, from: string, to: string | undefined, ctx: StepContext): Promise<void> {
  await env.db.withAdvisoryLock(`vc:${vcName}`, async () => {
    const vc = await getVc(env.db, vcName);
    await setVmState(env.db, vcName, [vm], 'stopping');
    await powerdownOnNode(env, vc, from, [vm], 20, ctx.log);
    if (!to) {
      await env.db.tx(async (q) => {
        await setVmState(q, vcName, [vm], 'stopped', 'stopped');
        await clearMapping(q, vcName, [vm]);
      });
      await syncNetwork(env, { log: ctx.log });
      return;
    }
    // Together: a row mapped to its new node but not yet 'starting' would read as moved.
    await env.db.tx(async (q) => {
      await setMapping(q, vcName, { [vm]: to });
      await setVmState(q, vcName, [vm], 'starting');
    });
    await syncNetwork(env, { tapsPending: true, log: ctx.log });
    await startOnNode(env, vc, await readImageMeta(env, vc.image), to, [vm], ctx.log);
    await setVmState(env.db, vcName, [vm], 'running', 'running');
    await syncNetwork(env, { log: ctx.log });
  }, { wait: true });
}

function vmStep(env: VcEnv, node: string, s: EvacuationStep, fallback: Fallback, deps: EvacuationDeps): Step {
  return step(`${s.vc}/${s.vm}`, async (ctx) => {
    const who = `${s.vc}/${s.vm}`;
    const row = (await vmsOf(env.db, s.vc)).find((v) => v.name === s.vm);
    if (!row) return ctx.log(`${who} no longer exists`);
    const moved = (to: string, action: string) => record(env, node, 'moved', { vc: s.vc, vm: s.vm, from: node, to, action });
    // A cold move cut after it mapped the VM to its new node: its start there is finished.
    if (row.node !== node && row.node === s.to && row.state === 'starting' && s.action !== 'none' && s.action !== 'refuse') {
      await coldMove(env, s.vc, s.vm, node, s.to, ctx);
      return await moved(s.to, 'cold');
    }
    if (row.node !== node && s.action !== 'none' && s.action !== 'refuse') {
      ctx.log(`${who} is already on ${row.node ?? 'no node'}`);
      return;
    }
    const failed = (reason: string) => { ctx.log(`${who} did not move: ${reason}`); return record(env, node, 'failed', { vc: s.vc, vm: s.vm, reason }); };
    try {
      switch (s.action) {
        case 'none': return ctx.log(s.reason);
        case 'refuse': return await failed(s.reason);
        case 'remap':
          await setMapping(env.db, s.vc, { [s.vm]: s.to! });
          ctx.log(`${who} (saved) is now mapped to ${s.to}`);
          return await moved(s.to!, 'remap');
        case 'stop':
          await coldMove(env, s.vc, s.vm, node, undefined, ctx);
          return ctx.log(`${who} stopped`);
        case 'cold':
          await coldMove(env, s.vc, s.vm, node, s.to!, ctx);
          return await moved(s.to!, 'cold');
        case 'live':
          try {
            await deps.moveVm(s.vc, s.vm, s.to!);
            return await moved(s.to!, 'live');
          } catch (e) {
            if (fallback === 'none') throw e;
            ctx.log(`${who}: live migration failed (${asVlxError(e).message}); falling back to ${fallback}`);
            await coldMove(env, s.vc, s.vm, node, fallback === 'cold' ? s.to! : undefined, ctx);
            if (fallback === 'cold') await moved(s.to!, 'cold');
            return;
          }
      }
    } catch (e) {
      await failed(asVlxError(e).message);
    }
  });
}

export function evacuateWorkflow(env: VcEnv, node: string, mode: EvacuationMode, fallback: Fallback, plan: EvacuationStep[], deps: EvacuationDeps): WorkflowDef {
  return {
    kind: 'node.evacuate',
    target: node,
    params: { mode, fallback, plan },
    lockKey: nodeLock(node),
    steps: [
      step('mark evacuating', async (ctx) => {
        await setAdminState(env.db, node, 'evacuating', { task: ctx.taskId, moved: [], failed: [] });
      }),
      ...plan.map((s) => vmStep(env, node, s, fallback, deps)),
      step('maintenance', async () => {
        // Placement skips it from here on, whatever moved; the record says what did not.
        await setAdminState(env.db, node, 'maintenance');
        const rec = await readRecord(env, node);
        const failed = rec.failed ?? [];
        if (failed.length > 0) {
          throw new VlxError('conflict', `${node} is in maintenance, but ${failed.length} VM${failed.length === 1 ? '' : 's'} did not move: ` +
            failed.map((f) => `${f.vc}/${f.vm} (${f.reason})`).join('; '), `fix the cause and run \`vlx node evacuate ${node}\` again`);
        }
      }),
    ],
  };
}

/** Ends maintenance, then moves back (live where running) every VM the last evacuation moved that is still where it went. */
export function restoreWorkflow(env: VcEnv, node: string, moved: NonNullable<EvacuationRecord['moved']>, deps: EvacuationDeps): WorkflowDef {
  return {
    kind: 'node.restore',
    target: node,
    params: { moved },
    lockKey: nodeLock(node),
    steps: [
      step('end maintenance', async () => { await setAdminState(env.db, node, 'active'); }),
      ...moved.map((m) => step(`${m.vc}/${m.vm}`, async (ctx) => {
        const row = (await vmsOf(env.db, m.vc).catch(() => [])).find((v) => v.name === m.vm);
        if (!row) return ctx.log(`${m.vc}/${m.vm} no longer exists`);
        if (row.node !== m.to) return ctx.log(`${m.vc}/${m.vm} is on ${row.node ?? 'no node'} now, not ${m.to}: left there`);
        if (row.state === 'saved') {
          await setMapping(env.db, m.vc, { [m.vm]: node });
          return ctx.log(`${m.vc}/${m.vm} (saved) is mapped to ${node} again`);
        }
        if (row.state !== 'running') return ctx.log(`${m.vc}/${m.vm} is ${row.state}: left where it is`);
        await deps.moveVm(m.vc, m.vm, node);
      })),
      step('done', async () => {
        await env.db.query(`update nodes set evacuation = '{}' where name = $1`, [node]);
      }),
    ],
  };
}
