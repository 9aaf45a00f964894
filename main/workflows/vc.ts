/**
 * The VC workflows: create, start, stop, save, restore, destroy and move, each a list of
 * idempotent steps. Over 400 lines because they share the step helpers and the settle-from-the-
 * nodes checks; each workflow is one function, found by its name.
 */
import { VlxError } from '../errors.js';
import { sh } from '../util/quote.js';
import { NODE_RUN } from '../config/paths.js';
import type { Step, StepContext, WorkflowDef } from '../tasks/types.js';
import { place, type Mode, type Policy } from '../placement/place.js';
import type { VcSpec } from '../domain/vcSpec.js';
import { vcAddresses } from '../domain/addressing.js';
import { renderOverlayScript } from '../vm/scripts.js';
import {
  ACTIVE_VM_STATES, clearMapping, deleteVolumes, getVc, findVc, insertVolumes, setMapping, setVcState, setVmState,
  upsertImage, vmsOf, volumesOf, type VcRow, type VmRow,
} from '../cluster/repo.js';
import { eachParallel, placementNodes, runScript, type VcEnv } from '../cluster/env.js';
import { syncNetwork } from '../network/sync.js';
import { powerdownOnNode, readImageMeta, restoreOnNode, saveOnNode } from '../vm/vmOps.js';
import { startOnNode } from '../vm/startOnNode.js';
import type { BootMode } from '../vm/warmStart.js';
import { byNode, haltEverywhere, reportUnreachable, settleAndMap, unknownNote } from './vcNodes.js';
import { LEASE_S, MARGIN_S, readHealthRows } from '../health/lease.js';
import { decideHealth } from '../health/state.js';
import type { ImageMeta } from '../images/types.js';

/**
 * The VC lifecycle as task workflows. Every step reads what it needs from the DB (a resumed
 * task skips the steps already done, so nothing may be carried in memory between steps)
 * and checks the state before acting, so re-running a step after a kill is harmless.
 * All workflows of one VC share the lock `vc:<name>`.
 */
const lockKey = (vc: string) => `vc:${vc}`;
const step = (name: string, run: (ctx: StepContext) => Promise<void>): Step => ({ name, run });

const active = new Set<string>(ACTIVE_VM_STATES);

// ------------------------------------------------------------------------------- create

export function createWorkflow(env: VcEnv, spec: VcSpec, meta: ImageMeta): WorkflowDef {
  const GIB = 1024 ** 3;
  return {
    kind: 'vc.create',
    target: spec.name,
    params: { ...spec },
    lockKey: lockKey(spec.name),
    steps: [
      step('record', async (ctx) => {
        const have = await findVc(env.db, spec.name);
        if (have && have.state !== 'creating') throw new VlxError('conflict', `VC name: a VC named "${spec.name}" already exists`);
        if (have) return ctx.log('VC already recorded');
        const img = env.paths.image(spec.image);
        const addrs = vcAddresses(spec.name, spec.subnet, spec.nodes);
        await env.db.tx(async (q) => {
          await upsertImage(q, {
            name: spec.image, kind: meta.kind, cmdline: meta.cmdline ?? null,
            files: meta.kind === 'kernel' ? { disk: img.disk, kernel: img.kernel, initrd: img.initrd } : { disk: img.disk },
            virtualBytes: meta.sizes.qcow2Virtual, allocatedBytes: meta.sizes.qcow2,
          });
          // Serialise share-id allocation between concurrent creates (the smallest free id).
          await q.query(`select pg_advisory_xact_lock(hashtext('vlx:share-ids'))`);
          await q.query(
            `insert into vcs (name, state, vcpus, mem_mb, disk_gb, swap_mb, image, subnet, options, share_id)
             values ($1, 'creating', $2, $3, $4, $5, $6, $7, $8,
               (select min(s) from generate_series(1, 65535) s where not exists (select 1 from vcs where share_id = s)))`,
            [spec.name, spec.vcpus, spec.memMb, spec.diskGb, spec.swapMb, spec.image, spec.subnet, JSON.stringify({ guest: meta.guest })],
          );
          await q.query(
            `insert into vms (vc, name, idx, ip, mac) select $1, * from unnest($2::text[], $3::int[], $4::inet[], $5::macaddr[])`,
            [spec.name, addrs.map((a) => a.name), addrs.map((a) => a.index), addrs.map((a) => a.ip), addrs.map((a) => a.mac)],
          );
        });
        ctx.log(`recorded ${spec.nodes} VMs in ${spec.subnet} (${addrs[0].ip} … ${addrs[addrs.length - 1].ip})`);
      }),
      step('volumes', async (ctx) => {
        const vc = await getVc(env.db, spec.name);
        const vms = await vmsOf(env.db, vc.name);
        const vols = vms.map((v) => ({ name: v.name, ...env.paths.vm(vc.name, v.name) }));
        const script = renderOverlayScript({
          vcDir: env.paths.vcDir(vc.name), shared: env.paths.vcShared(vc.name), image: env.paths.image(vc.image).disk,
          diskGb: vc.diskGb, swapMb: vc.swapMb, vms: vols,
        });
        const t0 = Date.now();
        const out = await runScript(await env.session.any(), script);
        const allocated = Number(out.trim().split('\n').pop()) || null;
        ctx.log(`${vms.length} disk overlays${vc.swapMb ? ' and swap volumes' : ''} in one round trip: ${Date.now() - t0} ms`);
        await insertVolumes(env.db, [
          ...vols.map((v) => ({ path: v.disk, kind: 'root' as const, format: 'qcow2' as const, backing: env.paths.image(vc.image).disk,
            vc: vc.name, vm: v.name, virtualBytes: vc.diskGb * GIB, allocatedBytes: allocated })),
          ...(vc.swapMb > 0 ? vols.map((v) => ({ path: v.swap, kind: 'swap' as const, format: 'qcow2' as const, backing: null,
            vc: vc.name, vm: v.name, virtualBytes: vc.swapMb * 1024 * 1024, allocatedBytes: null })) : []),
          { path: env.paths.vcShared(vc.name), kind: 'shared', format: 'dir', backing: null, vc: vc.name, vm: null, virtualBytes: null, allocatedBytes: null },
        ]);
      }),
      step('finish', async () => {
        const vms = await vmsOf(env.db, spec.name);
        await env.db.tx(async (q) => {
          await setVcState(q, spec.name, 'created');
          await setVmState(q, spec.name, vms.map((v) => v.name), 'stopped', 'stopped');
        });
      }),
    ],
  };
}

// -------------------------------------------------------------------------------- start

async function vcAndMeta(env: VcEnv, name: string): Promise<{ vc: VcRow; meta: ImageMeta; vms: VmRow[] }> {
  const vc = await getVc(env.db, name);
  return { vc, meta: await readImageMeta(env, vc.image), vms: await vmsOf(env.db, name) };
}

/** Placement of the VMs not yet running; running ones keep their node (pinned). */
async function placeVc(env: VcEnv, vc: VcRow, vms: VmRow[], policy: Policy, mode: Mode, ctx: StepContext, keepAll = false): Promise<Record<string, string>> {
  const nodes = await placementNodes(env, env.db, vc.name);
  const pinned: Record<string, string> = {};
  for (const v of vms) if (v.node && (keepAll || v.state === 'running')) pinned[v.name] = v.node;
  const { mapping } = place(vms.map((v) => ({ name: v.name, vcpus: vc.vcpus, memMb: vc.memMb })), nodes, policy, mode, { pinned });
  const counts = new Map<string, number>();
  for (const n of Object.values(mapping)) counts.set(n, (counts.get(n) ?? 0) + 1);
  ctx.log(`placement ${policy}/${mode}: ${[...counts].map(([n, c]) => `${n}: ${c}`).join(', ')}`);
  return mapping;
}

/**
 * VMs still to start whose node stopped answering after the place step (a start resumed
 * after that node crashed) go where the placement puts them now, which is never a dead node,
 * once that node is confirmed down; the others keep their nodes.
 */
async function placeStranded(env: VcEnv, vc: VcRow, vms: VmRow[], unreachable: string[], policy: Policy, mode: Mode, ctx: StepContext): Promise<void> {
  const candidates = vms.filter((v) => v.state === 'starting' && v.node && unreachable.includes(v.node));
  if (candidates.length === 0) return;
  // The first start may have launched the VM there before the node went quiet, and a node
  // that lost only its link still runs it: it may start elsewhere only once its node is
  // confirmed down (its lease run out, plus the margin its watchdog has to kill its VMs).
  const down = await confirmedDown(env, [...new Set(candidates.map((v) => v.node as string))], ctx);
  const stranded = candidates.filter((v) => down.has(v.node as string));
  for (const v of candidates.filter((x) => !down.has(x.node as string))) {
    ctx.log(`${vc.name}/${v.name}: its node ${v.node} does not answer but is not confirmed down (its lease is valid): not started elsewhere`);
  }
  if (stranded.length === 0) return;
  const kept = vms.filter((v) => (v.state === 'starting' || v.state === 'running') && v.node && !unreachable.includes(v.node));
  const pinned = Object.fromEntries(kept.map((v) => [v.name, v.node as string]));
  const nodes = await placementNodes(env, env.db, vc.name);
  const { mapping } = place([...kept, ...stranded].map((v) => ({ name: v.name, vcpus: vc.vcpus, memMb: vc.memMb })), nodes, policy, mode, { pinned });
  const moved = Object.fromEntries(stranded.map((v) => [v.name, mapping[v.name]]));
  await setMapping(env.db, vc.name, moved);
  ctx.log(`placement ${policy}/${mode} again: ${stranded.map((v) => `${v.name} from ${v.node} (not answering) to ${moved[v.name]}`).join(', ')}`);
}

/**
 * Which of these nodes are confirmed down: waits (at most one lease and its margin) for the
 * leases of nodes that do not answer to run out; a node whose lease someone still renews
 * (it answers them: a partition) is not down.
 */
async function confirmedDown(env: VcEnv, nodes: string[], ctx: StepContext): Promise<Set<string>> {
  const deadline = Date.now() + (LEASE_S + MARGIN_S + 2) * 1000;
  for (let said = false; ; said = true) {
    const { now, rows } = await readHealthRows(env.db);
    const state = nodes.map((n) => {
      const r = rows.find((x) => x.name === n);
      // The health rule itself, for a node that does not answer us (a node with no row was never leased).
      const down = decideHealth({ admin: r?.admin ?? 'active', probe: 'failed', leaseUntil: r?.leaseUntil ?? null, fenced: r?.fenced ?? false, now, marginMs: MARGIN_S * 1000 }).confirmedDown;
      return { n, down, until: r?.leaseUntil ?? 0 };
    });
    const waiting = state.filter((x) => !x.down);
    if (waiting.length === 0 || Date.now() >= deadline) return new Set(state.filter((x) => x.down).map((x) => x.n));
    if (!said) ctx.log(`waiting for ${waiting.map((x) => x.n).join(', ')} to be confirmed down (lease and margin) before starting their VMs elsewhere`);
    const wait = Math.max(...waiting.map((x) => x.until + MARGIN_S * 1000 - now));
    await new Promise((r) => setTimeout(r, Math.min(Math.max(wait, 250), deadline - Date.now(), 2000)));
  }
}

export function startWorkflow(env: VcEnv, name: string, policy: Policy, mode: Mode, boot: BootMode = 'warm'): WorkflowDef {
  return {
    kind: 'vc.start',
    target: name,
    params: { policy, mode, boot },
    lockKey: lockKey(name),
    steps: [
      step('place', async (ctx) => {
        const vc = await getVc(env.db, name);
        if (['creating', 'saved', 'saving', 'restoring', 'destroying'].includes(vc.state)) {
          throw new VlxError('conflict', `VC ${name} is ${vc.state}`, vc.state === 'saved' ? 'use `vlx vc restore`' : undefined);
        }
        const vms = await vmsOf(env.db, name);
        const mapping = await placeVc(env, vc, vms, policy, mode, ctx);
        await env.db.tx(async (q) => {
          await setMapping(q, name, mapping);
          await setVmState(q, name, vms.filter((v) => v.state !== 'running').map((v) => v.name), 'starting', 'running');
          await setVcState(q, name, 'starting', { policy, mode });
        });
      }),
      step('firewall', async (ctx) => {
        await syncNetwork(env, { tapsPending: true, log: ctx.log });
        ctx.log('firewall rules and shared storage exports in place on every node');
      }),
      step('vms', async (ctx) => {
        const { vc, meta, vms: rows } = await vcAndMeta(env, name);
        // A copy of a VM elsewhere than the DB says (a move cut half-way) is settled first:
        // the start must neither boot a second copy nor leave a paused husk behind.
        const { lost, unreachable } = await settleAndMap(env, vc, rows.filter((v) => v.state === 'starting' || v.state === 'running' || v.state === 'migrating'), ctx);
        // A VM whose running state is gone boots again: that is what a start is for.
        await setVmState(env.db, name, lost, 'starting', 'running');
        await setVmState(env.db, name, rows.filter((v) => v.state === 'migrating').map((v) => v.name), 'running');
        await placeStranded(env, vc, await vmsOf(env.db, name), unreachable, policy, mode, ctx);
        const vms = await vmsOf(env.db, name);
        // A VM recorded running on a node that does not answer is unknown, not started twice.
        reportUnreachable(ctx, name, vms.filter((v) => v.state === 'running'), unreachable, 'not started again');
        const groups = [...byNode(vms.filter((v) => (v.state === 'starting' || v.state === 'running') && !unreachable.includes(v.node as string)))];
        let done = 0;
        await eachParallel(groups, async ([node, list]) => {
          await startOnNode(env, vc, meta, node, list, ctx.log, { boot });
          await setVmState(env.db, name, list, 'running');
          done += list.length;
          ctx.progress(done / vms.length, `${done}/${vms.length} VMs`);
        }, ([node]) => node);
        const r = await syncNetwork(env, { log: ctx.log });
        ctx.log(`routes: ${Object.entries(r.changes).map(([h, n]) => `${h} +${n}`).join(', ')}`);
      }),
      step('finish', async () => {
        await setVcState(env.db, name, 'running');
      }),
    ],
  };
}

// --------------------------------------------------------------------------------- stop

export function stopWorkflow(env: VcEnv, name: string, timeoutS: number): WorkflowDef {
  return {
    kind: 'vc.stop',
    target: name,
    params: { timeoutS },
    lockKey: lockKey(name),
    steps: [
      step('mark', async () => {
        const vc = await getVc(env.db, name);
        if (vc.state === 'saved') throw new VlxError('conflict', `VC ${name} is saved`, 'restore it first, or destroy it');
        const vms = await vmsOf(env.db, name);
        await setVmState(env.db, name, vms.filter((v) => active.has(v.state)).map((v) => v.name), 'stopping', 'stopped');
        await setVcState(env.db, name, 'stopping');
      }),
      step('shutdown', async (ctx) => {
        const vc = await getVc(env.db, name);
        const { unreachable } = await settleAndMap(env, vc, (await vmsOf(env.db, name)).filter((v) => v.state === 'stopping'), ctx);
        const stopping = (await vmsOf(env.db, name)).filter((v) => v.state === 'stopping');
        // A node that does not answer cannot shut its VMs down: the others still stop cleanly.
        reportUnreachable(ctx, name, stopping, unreachable, 'not stopped');
        await eachParallel([...byNode(stopping.filter((v) => !unreachable.includes(v.node as string)))],
          ([node, list]) => powerdownOnNode(env, vc, node, list, timeoutS, ctx.log), ([node]) => node);
      }),
      step('cleanup', async (ctx) => {
        const vc = await getVc(env.db, name);
        const vms = await vmsOf(env.db, name);
        // A QEMU the DB does not know about (a move killed half-way) must not outlive the stop.
        const unreachable = await haltEverywhere(env, vc, vms.map((v) => v.name), ctx);
        // The VMs of a node that does not answer keep their mapping and show as 'error' until a
        // later stop (or the node's return) settles them; the VC itself is stopped.
        const unknown = reportUnreachable(ctx, name, vms.filter((v) => v.state !== 'stopped'), unreachable, 'not stopped');
        const stopped = vms.map((v) => v.name).filter((v) => !unknown.includes(v));
        await env.db.tx(async (q) => {
          await clearMapping(q, name, stopped);
          await setVmState(q, name, stopped, 'stopped', 'stopped');
          await setVmState(q, name, unknown, 'error', 'stopped');
          await setVcState(q, name, 'stopped');
        });
        await syncNetwork(env, { log: ctx.log });
      }),
    ],
  };
}

// --------------------------------------------------------------------------------- save

export function saveWorkflow(env: VcEnv, name: string): WorkflowDef {
  return {
    kind: 'vc.save',
    target: name,
    lockKey: lockKey(name),
    steps: [
      step('mark', async () => {
        const vc = await getVc(env.db, name);
        if (!['running', 'saving', 'starting', 'error'].includes(vc.state)) {
          throw new VlxError('conflict', `VC ${name} is ${vc.state}: only a running VC can be saved`);
        }
        const vms = await vmsOf(env.db, name);
        await setVmState(env.db, name, vms.filter((v) => v.state === 'running' || v.state === 'paused').map((v) => v.name), 'saving', 'saved');
        await setVcState(env.db, name, 'saving');
      }),
      step('save', async (ctx) => {
        const vc = await getVc(env.db, name);
        const { unreachable, lost } = await settleAndMap(env, vc, (await vmsOf(env.db, name)).filter((v) => v.state === 'saving'), ctx);
        for (const v of lost) ctx.log(`${name}/${v}: its running state was lost before the save: nothing to save`);
        await setVmState(env.db, name, lost, 'error', 'saved');
        const vms = await vmsOf(env.db, name);
        const unknown = reportUnreachable(ctx, name, vms.filter((v) => v.state === 'saving'), unreachable, 'not saved');
        await setVmState(env.db, name, unknown, 'error', 'saved');
        const todo = vms.filter((v) => v.state === 'saving' && v.node && !unknown.includes(v.name));
        let done = 0;
        await eachParallel(todo, async (v) => {
          await saveOnNode(env, vc, v.node as string, v.name, ctx.log);
          await setVmState(env.db, name, [v.name], 'saved');
          ctx.progress(++done / todo.length, `${done}/${todo.length} VMs`);
        }, (v) => `${v.node}/${v.name}`);
        if (unknown.length) ctx.progress(1, `${done}/${todo.length} VMs saved; ${unknownNote(vms.filter((v) => unknown.includes(v.name)))}`);
      }),
      step('network', async (ctx) => {
        await syncNetwork(env, { log: ctx.log });
        await setVcState(env.db, name, 'saved');
      }),
    ],
  };
}

// ------------------------------------------------------------------------------ restore

export function restoreWorkflow(env: VcEnv, name: string, policy?: Policy, mode?: Mode): WorkflowDef {
  return {
    kind: 'vc.restore',
    target: name,
    params: { ...(policy ? { policy } : {}), ...(mode ? { mode } : {}) },
    lockKey: lockKey(name),
    steps: [
      step('place', async (ctx) => {
        const vc = await getVc(env.db, name);
        if (!['saved', 'restoring'].includes(vc.state)) throw new VlxError('conflict', `VC ${name} is ${vc.state}: only a saved VC can be restored`);
        const vms = await vmsOf(env.db, name);
        const saved = vms.filter((v) => v.state === 'saved' || v.state === 'restoring');
        let mapping: Record<string, string>;
        if (policy || mode) {
          mapping = await placeVc(env, vc, saved, policy ?? vc.policy, mode ?? vc.mode, ctx);
        } else {
          // Same mapping: still checked, so a node that died or filled up is refused with the reason.
          const nodes = await placementNodes(env, env.db, vc.name);
          const pinned = Object.fromEntries(saved.filter((v) => v.node).map((v) => [v.name, v.node as string]));
          mapping = place(saved.map((v) => ({ name: v.name, vcpus: vc.vcpus, memMb: vc.memMb })), nodes, vc.policy, vc.mode, { pinned }).mapping;
        }
        await env.db.tx(async (q) => {
          await setMapping(q, name, mapping);
          await setVmState(q, name, saved.map((v) => v.name), 'restoring', 'running');
          await setVcState(q, name, 'restoring', { ...(policy ? { policy } : {}), ...(mode ? { mode } : {}) });
        });
      }),
      step('firewall', async (ctx) => {
        await syncNetwork(env, { tapsPending: true, log: ctx.log });
      }),
      step('restore', async (ctx) => {
        const { vc, meta, vms: rows } = await vcAndMeta(env, name);
        await settleAndMap(env, vc, rows.filter((v) => v.state === 'restoring'), ctx);
        const vms = await vmsOf(env.db, name);
        await eachParallel([...byNode(vms.filter((v) => v.state === 'restoring'))], async ([node, list]) => {
          await restoreOnNode(env, vc, meta, node, list, ctx.log);
          await setVmState(env.db, name, list, 'running');
        }, ([node]) => node);
        await syncNetwork(env, { log: ctx.log });
        await setVcState(env.db, name, 'running');
      }),
    ],
  };
}

// ------------------------------------------------------------------------------ destroy

export function destroyWorkflow(env: VcEnv, name: string): WorkflowDef {
  return {
    kind: 'vc.destroy',
    target: name,
    lockKey: lockKey(name),
    steps: [
      // A re-run after the row went (killed in the last step) finds no VC: only the last steps' clean-up is left.
      step('mark', async () => {
        if (await findVc(env.db, name)) await setVcState(env.db, name, 'destroying');
      }),
      step('halt', async (ctx) => {
        const vc = await findVc(env.db, name);
        if (!vc) return;
        const vms = await vmsOf(env.db, name);
        const unreachable = await haltEverywhere(env, vc, vms.map((v) => v.name), ctx);
        reportUnreachable(ctx, name, vms, unreachable, 'if it still runs there, it outlives its VC until the node is stopped');
        await env.session.onNodes('all', sh('rm', '-rf', `${NODE_RUN}/vm/${vc.name}`));
        await env.db.tx(async (q) => {
          await clearMapping(q, name);
          await setVmState(q, name, vms.map((v) => v.name), 'stopped', 'stopped');
        });
        await syncNetwork(env, { log: ctx.log });
      }),
      step('files', async (ctx) => {
        const dir = env.paths.vcDir(name);
        await (await env.session.any()).run(sh('rm', '-rf', dir));
        await deleteVolumes(env.db, (await volumesOf(env.db, name)).map((v) => v.path));
        ctx.log(`removed ${dir}`);
      }),
      step('rows', async (ctx) => {
        await env.db.query('delete from vcs where name = $1', [name]);
        // The VC's subnet leaves every node's insulation set.
        await syncNetwork(env, { log: ctx.log });
      }),
    ],
  };
}

export { moveWorkflow, type MoveRequest } from './move.js';
