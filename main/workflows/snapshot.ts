import { VlxError, invalid } from '../errors.js';
import { sh } from '../util/quote.js';
import type { Step, StepContext, WorkflowDef } from '../tasks/types.js';
import { clearMapping, getVc, setVcState, setVmState, vmsOf, type VcRow } from '../cluster/repo.js';
import { runScript, type VcEnv } from '../cluster/env.js';
import { syncNetwork } from '../network/sync.js';
import { haltSpec } from '../vm/vmOps.js';
import { haltEverywhere } from './vcNodes.js';
import { restoreWorkflow, startWorkflow } from './vc.js';
import { findSnapshot, planDelete, planRollback, type SnapshotRec } from '../domain/snapshotPlan.js';
import {
  dropSnapshot, finishSnapshot, headsOf, insertSnapshot, nextGen, setHeads, setSnapshotState, snapshotsOf, vcHead,
} from '../cluster/snapshotRepo.js';
import { freezeRunning } from '../vm/snapshotFreeze.js';
import { mergeFiles } from '../vm/snapshotMerge.js';
import type { Mode, Policy } from '../placement/place.js';

/**
 * VC-wide snapshots as task workflows (issue 12): take, roll back to, delete. Like the VC
 * lifecycle, every step reads what it needs from the DB and checks the files and QEMUs
 * before acting, so a task killed anywhere is run again to the same end. All share the VC's
 * lock `vc:<name>` with the lifecycle workflows.
 */
const lockKey = (vc: string) => `vc:${vc}`;
const step = (name: string, run: (ctx: StepContext) => Promise<void>): Step => ({ name, run });

/** A new overlay on `backing`, made under a temporary name so a killed create never leaves a half file under the real one. */
const overlayCmd = (overlay: string, backing: string) =>
  `[ -e ${sh(overlay)} ] || { qemu-img create -q -f qcow2 -b ${sh(backing)} -F qcow2 ${sh(`${overlay}.part`)} && mv -f ${sh(`${overlay}.part`)} ${sh(overlay)}; }`;

/** Allocated bytes of each file (one `stat` for all); a missing file counts 0. */
async function allocated(env: VcEnv, files: string[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  if (files.length === 0) return out;
  const r = await (await env.session.any()).exec(`stat -c '%b %B %n' ${files.map((f) => sh(f)).join(' ')} 2>/dev/null; true`);
  for (const l of r.stdout.split('\n')) {
    const m = /^(\d+) (\d+) (.+)$/.exec(l.trim());
    if (m) out.set(m[3]!, Number(m[1]) * Number(m[2]));
  }
  return out;
}

const TAKEABLE = ['running', 'stopped', 'created'];

// --------------------------------------------------------------------------------- take

export function snapshotWorkflow(env: VcEnv, name: string, tag: string, withMemory: boolean): WorkflowDef {
  return {
    kind: 'vc.snapshot',
    target: name,
    params: { tag, withMemory },
    lockKey: lockKey(name),
    steps: [
      step('record', async (ctx) => {
        const vc = await getVc(env.db, name);
        const snaps = await snapshotsOf(env.db, name);
        const have = snaps.find((s) => s.tag === tag);
        if (have?.state === 'taking') return ctx.log(`snapshot ${tag} already recorded: going on with it`);
        if (have) throw new VlxError('conflict', `tag: VC ${name} already has a snapshot "${tag}"`, 'choose another tag, or delete that snapshot first');
        if (!TAKEABLE.includes(vc.state)) throw new VlxError('conflict', `VC ${name} is ${vc.state}: a snapshot is taken of a running or stopped VC`);
        const vms = await vmsOf(env.db, name);
        const running = vc.state === 'running';
        if (running && vms.some((v) => v.state !== 'running')) {
          throw new VlxError('conflict', `VC ${name} is partly running (${vms.filter((v) => v.state !== 'running').map((v) => `${v.name} ${v.state}`).join(', ')}): not one instant`, 'start or stop it first');
        }
        if (withMemory && !running) throw invalid('withMemory', 'needs a running VC (a stopped VC has no memory to save)', withMemory);
        const heads = await headsOf(env.db, env.paths, name);
        await env.db.tx(async (q) => {
          const gen = await nextGen(q, name);
          const parent = (await vcHead(q, name)).tag;
          await insertSnapshot(q, name, { tag, parent, withMemory, wasRunning: running }, heads.map((h) => ({
            vm: h.vm, disk: h.disk, overlay: env.paths.snapshotOverlay(name, h.vm, gen),
            stateFile: withMemory ? env.paths.snapshotState(name, tag, h.vm) : null,
          })));
        });
        ctx.log(`snapshot ${tag} of ${vms.length} VMs (${running ? 'running' : 'stopped'}${withMemory ? ', with memory' : ''}) recorded`);
      }),
      step('freeze', async (ctx) => {
        const vc = await getVc(env.db, name);
        const snap = findSnapshot(await snapshotsOf(env.db, name), tag, name);
        const heads = await headsOf(env.db, env.paths, name);
        if (snap.disks.every((d) => heads.find((h) => h.vm === d.vm)?.disk === d.overlay)) return ctx.log('every disk already moved on to its new overlay');
        const conn = await env.session.any();
        await conn.run(`mkdir -p ${sh(env.paths.snapshotDir(name))}${snap.withMemory ? ` ${sh(`${env.paths.snapshotDir(name)}/${tag}`)}` : ''}`);
        if (snap.wasRunning) {
          const vms = await vmsOf(env.db, name);
          const targets = snap.disks.map((d) => {
            const row = vms.find((v) => v.name === d.vm);
            if (!row?.node) throw new VlxError('conflict', `${name}/${d.vm} has no node: the VC is not running as a whole`);
            return { vm: d.vm, node: row.node, qmp: haltSpec(vc, d.vm).qmp, overlay: d.overlay, stateFile: d.stateFile };
          });
          const r = await freezeRunning(env, targets, ctx.log);
          ctx.log(`pause of ${targets.length} VMs: ${r.pauseMs} ms from the first stop to the last cont as QEMU timed it`
            + ` (${r.wallMs} ms as seen from here; target under 200 ms for 8 VMs)`);
          await finishSnapshot(env.db, name, tag, r.pauseMs, new Map());
        } else {
          await runScript(conn, snap.disks.map((d) => overlayCmd(d.overlay, d.disk)).join('\n') + '\n');
          ctx.log(`${snap.disks.length} overlays made with qemu-img (VC stopped)`);
        }
        await setHeads(env.db, name, snap.disks.map((d) => ({ vm: d.vm, disk: d.overlay, onTag: tag })), tag);
      }),
      step('sizes', async (ctx) => {
        const snap = findSnapshot(await snapshotsOf(env.db, name), tag, name);
        const sizes = await allocated(env, snap.disks.map((d) => d.disk));
        await finishSnapshot(env.db, name, tag, null, new Map(snap.disks.map((d) => [d.vm, sizes.get(d.disk) ?? 0])));
        ctx.log(`snapshot ${tag}: ${[...sizes.values()].reduce((a, b) => a + b, 0)} bytes frozen in ${snap.disks.length} disks`);
      }),
    ],
  };
}

// ----------------------------------------------------------------------------- rollback

export interface RollbackParams {
  tag: string;
  /** The VC ran when asked: it runs again afterwards (from the RAM states if the snapshot has them). */
  restart: boolean;
  withMemory: boolean;
  policy: Policy;
  mode: Mode;
}

/** Remove the snapshot directory's overlays that no snapshot and no VM uses (the discarded tops, half-made files). */
function sweepScript(dir: string, keep: string[]): string {
  const pattern = keep.length ? keep.map((k) => sh(k)).join('|') : "''";
  return `for f in ${sh(dir)}/*.qcow2 ${sh(dir)}/*.part; do [ -e "$f" ] || continue; case "$f" in ${pattern}) ;; *) rm -f "$f"; echo "removed $f";; esac; done\n`;
}

export function rollbackWorkflow(env: VcEnv, name: string, p: RollbackParams): WorkflowDef {
  const after = !p.restart ? [] : p.withMemory ? restoreWorkflow(env, name).steps : startWorkflow(env, name, p.policy, p.mode).steps;
  return {
    kind: 'vc.rollback',
    target: name,
    params: { ...p },
    lockKey: lockKey(name),
    steps: [
      step('record', async (ctx) => {
        const vc = await getVc(env.db, name);
        if (['saved', 'saving', 'restoring', 'creating', 'destroying'].includes(vc.state)) {
          throw new VlxError('conflict', `VC ${name} is ${vc.state}: roll back a running or stopped VC`, vc.state === 'saved' ? 'restore or stop it first' : undefined);
        }
        const snaps = await snapshotsOf(env.db, name);
        const snap = findSnapshot(snaps, p.tag, name);
        if (snap.state !== 'ready') throw new VlxError('conflict', `tag: snapshot ${p.tag} is ${snap.state}, not ready`);
        const heads = await headsOf(env.db, env.paths, name);
        await env.db.tx(async (q) => {
          const gen = await nextGen(q, name);
          const plan = planRollback(snap, heads, snaps, snap.disks.map((d) => d.vm), (vm) => env.paths.snapshotOverlay(name, vm, gen));
          await setHeads(q, name, plan.map((s) => ({ vm: s.vm, disk: s.overlay, onTag: p.tag })), p.tag);
        });
        ctx.log(`rolling ${name} back to ${p.tag}${p.restart ? ', then running it again' : ''}`);
      }),
      step('halt', async (ctx) => {
        const vc = await getVc(env.db, name);
        const vms = await vmsOf(env.db, name);
        const unreachable = await haltEverywhere(env, vc, vms.map((v) => v.name), ctx);
        if (unreachable.length) throw new VlxError('unreachable', `${unreachable.join(', ')} did not answer: a VM there could still write to its disk`, 'roll back once every node answers');
        // A guest restored from memory holds TCP connections of the instant it was saved; the nodes'
        // ends of them (its NFS mount's, above all) moved on since. Closing them makes the guest's
        // next segment meet a reset, and it reconnects at once instead of retrying for minutes.
        await env.session.onNodes('all', `for ip in ${vms.map((v) => sh(v.ip)).join(' ')}; do ss -K dst "$ip" >/dev/null 2>&1; done; true`);
        await env.db.tx(async (q) => {
          await clearMapping(q, name);
          await setVmState(q, name, vms.map((v) => v.name), 'stopped', 'stopped');
          await setVcState(q, name, 'stopped');
        });
        await syncNetwork(env, { log: ctx.log });
      }),
      step('overlays', async (ctx) => {
        const snaps = await snapshotsOf(env.db, name);
        const snap = findSnapshot(snaps, p.tag, name);
        const heads = await headsOf(env.db, env.paths, name);
        const cmds = heads.map((h) => overlayCmd(h.disk, snap.disks.find((d) => d.vm === h.vm)!.disk));
        const keep = [...snaps.flatMap((s) => s.disks.map((d) => d.disk)), ...heads.map((h) => h.disk)];
        if (p.withMemory) {
          // The restore reads vc/<vc>/<vm>.state and removes it after: a hard link leaves the snapshot's own file.
          for (const d of snap.disks) if (d.stateFile) cmds.push(`ln -f ${sh(d.stateFile)} ${sh(env.paths.vm(name, d.vm).state)}`);
        }
        const out = await runScript(await env.session.any(), cmds.join('\n') + '\n' + sweepScript(env.paths.snapshotDir(name), keep));
        ctx.log(`new overlays on ${p.tag} for ${heads.length} VMs${out.trim() ? `; ${out.trim().split('\n').length} old overlays removed` : ''}`);
        if (p.restart && p.withMemory) {
          const vms = await vmsOf(env.db, name);
          await env.db.tx(async (q) => {
            await setVmState(q, name, vms.map((v) => v.name), 'saved', 'saved');
            await setVcState(q, name, 'saved');
          });
        }
      }),
      ...after.map((s) => step(`${p.withMemory ? 'restore' : 'start'}-${s.name}`, s.run)),
    ],
  };
}

// ------------------------------------------------------------------------------- delete

export function deleteSnapshotWorkflow(env: VcEnv, name: string, tag: string): WorkflowDef {
  return {
    kind: 'vc.snapshot-delete',
    target: name,
    params: { tag },
    lockKey: lockKey(name),
    steps: [
      step('mark', async () => {
        const vc = await getVc(env.db, name);
        if (!['running', 'stopped', 'created', 'error'].includes(vc.state)) throw new VlxError('conflict', `VC ${name} is ${vc.state}: delete a snapshot of a running or stopped VC`);
        findSnapshot(await snapshotsOf(env.db, name), tag, name);
        await setSnapshotState(env.db, name, tag, 'deleting');
      }),
      step('merge', async (ctx) => {
        const vc = await getVc(env.db, name);
        const plan = await deletePlanOf(env, vc, tag);
        await mergeFiles(env, vc, plan.merges, ctx);
      }),
      step('remove', async (ctx) => {
        const vc = await getVc(env.db, name);
        const snaps = await snapshotsOf(env.db, name);
        const snap = snaps.find((s) => s.tag === tag);
        if (!snap) return ctx.log(`snapshot ${tag} is already gone`);
        const plan = await deletePlanOf(env, vc, tag);
        // Only a file nothing backs onto any more is removed: merge left every child on the parent.
        await (await env.session.any()).run(`rm -f ${plan.remove.map((f) => sh(f)).join(' ')}; rmdir ${sh(`${env.paths.snapshotDir(name)}/${tag}`)} 2>/dev/null; true`);
        await env.db.tx((q) => dropSnapshot(q, name, tag, snap.parent));
        ctx.log(`snapshot ${tag} deleted; ${plan.reparent.length ? `${plan.reparent.join(', ')} now hang from ${snap.parent ?? 'the image'}` : 'no child snapshots'}`);
      }),
    ],
  };
}

async function deletePlanOf(env: VcEnv, vc: VcRow, tag: string) {
  const snaps: SnapshotRec[] = await snapshotsOf(env.db, vc.name);
  const snap = findSnapshot(snaps, tag, vc.name);
  const heads = await headsOf(env.db, env.paths, vc.name);
  const vms = await vmsOf(env.db, vc.name);
  const running = new Set(vms.filter((v) => v.state === 'running' && v.node).map((v) => v.name));
  return planDelete(snap, snaps, heads, running, env.paths.image(vc.image).disk);
}

