import { VlxError } from '../errors.js';
import { NODE_RUN } from '../config/paths.js';
import type { NodeConn } from '../ssh/types.js';
import { vmRuntimePaths } from '../domain/addressing.js';
import { cont, migrateCancel, observe, openQmp, type QmpClient } from './qmp.js';
import { parseScan, renderScanScript, renderWaitGoneScript } from './scripts.js';
import { decideRecovery, sideFromRunState, type MigrateState, type RecoveryPlan, type SideState } from './migrationRecovery.js';
import { haltOnNode } from './vmOps.js';
import { runScript, type VcEnv } from '../cluster/env.js';
import type { VcRow, VmRow } from '../cluster/repo.js';

/**
 * What really runs, as opposed to what the DB says: every node's QEMUs of a VC (pid files
 * checked against /proc) and, for a VM whose copies disagree with the DB, each copy's QMP
 * state. A VM with a copy on two nodes (a migration interrupted at any instant) is settled
 * by the pure decision in migrationRecovery: one copy is kept, the other stopped, and the
 * kept one resumed only when that is safe.
 */
export interface VcScan {
  /** VM → nodes where a QEMU of it is alive. */
  copies: Map<string, string[]>;
  /** Nodes that did not answer: their part is unknown. */
  unreachable: string[];
}

const SCAN_TIMEOUT_MS = 8000;

export async function scanVc(env: VcEnv, vc: string): Promise<VcScan> {
  const results = await env.session.onNodes('all', 'sh -e', { stdin: renderScanScript(NODE_RUN), timeoutMs: SCAN_TIMEOUT_MS });
  const copies = new Map<string, string[]>();
  const unreachable: string[] = [];
  for (const r of results) {
    if (r.code !== 0) {
      unreachable.push(r.node);
      continue;
    }
    for (const p of parseScan(r.stdout).filter((x) => x.vc === vc)) copies.set(p.vm, [...(copies.get(p.vm) ?? []), r.node]);
  }
  return { copies, unreachable };
}

export interface SideView {
  side: SideState;
  migration: MigrateState;
}

async function reach(env: VcEnv, node: string): Promise<NodeConn | undefined> {
  try {
    return await env.session.node(node);
  } catch {
    return undefined;
  }
}

/** One VM's QEMU on one node, as it is now. */
export async function observeSide(env: VcEnv, vc: string, vm: string, node: string): Promise<SideView> {
  const conn = await reach(env, node);
  if (!conn) return { side: 'unreachable', migration: 'none' };
  const run = vmRuntimePaths(vc, vm);
  let alive: string;
  try {
    alive = (await runScript(conn, renderWaitGoneScript(run.pid, 0), 10_000)).trim();
  } catch {
    return { side: 'unreachable', migration: 'none' };
  }
  if (alive !== 'alive') return { side: 'missing', migration: 'none' };
  // A QEMU that has just daemonized may not listen yet: ask twice before calling it broken.
  for (let attempt = 0; ; attempt++) {
    let q: QmpClient | undefined;
    try {
      q = await openQmp(conn, run.qmp, { label: `${node}/${vc}/${vm}`, timeoutMs: 10_000 });
      const o = await observe(q);
      return { side: sideFromRunState(o.status), migration: o.migration };
    } catch (e) {
      if (attempt >= 1) {
        if ((await runScript(conn, renderWaitGoneScript(run.pid, 0), 10_000).catch(() => 'alive')).trim() !== 'alive') {
          return { side: 'missing', migration: 'none' };
        }
        return { side: 'broken', migration: 'none' };
      }
      await new Promise((r) => setTimeout(r, 500));
    } finally {
      q?.close();
    }
  }
}

async function qmpDo(env: VcEnv, vc: string, vm: string, node: string, fn: (q: QmpClient) => Promise<void>): Promise<void> {
  const conn = await env.session.node(node);
  const q = await openQmp(conn, vmRuntimePaths(vc, vm).qmp, { label: `${node}/${vc}/${vm}`, timeoutMs: 15_000 });
  try {
    await fn(q);
  } finally {
    q.close();
  }
}

export interface Settled {
  /** The node whose copy holds the guest now, or undefined when it is lost. */
  holder: string | undefined;
  plan: RecoveryPlan['kind'];
  /** Something was done (a copy stopped, a migration cancelled, a guest resumed). */
  acted: boolean;
}

const WAIT_MS = 20_000;

/**
 * Settle one VM between a source and a target node (either may hold no copy). Observes
 * both, decides, acts, and observes again until one copy is left holding the guest (or it
 * is found lost, or the case needs a person). Never acts on a node that does not answer.
 */
export async function settleVm(env: VcEnv, vc: VcRow, vm: string, source: string, target: string | undefined,
  log: (l: string) => void): Promise<Settled> {
  const label = `${vc.name}/${vm}`;
  const t0 = Date.now();
  let acted = false;
  for (;;) {
    const none: SideView = { side: 'missing', migration: 'none' };
    const [s, t] = await Promise.all([observeSide(env, vc.name, vm, source), target ? observeSide(env, vc.name, vm, target) : none]);
    const stuck = Date.now() - t0 > WAIT_MS;
    const plan = decideRecovery({ source: s.side, migration: s.migration, target: t.side, stuck });
    const seen = `source ${source} ${s.side}/${s.migration}, target ${target ?? '(none)'} ${t.side}`;
    switch (plan.kind) {
      case 'wait':
        await new Promise((r) => setTimeout(r, 200));
        continue;
      case 'manual':
        throw new VlxError('conflict', `${label}: ${seen}: ${plan.why}`, 'look at `vlx vc status`; nothing was changed');
      case 'target':
        if (s.side !== 'missing' || t.side !== 'running') log(`recovery: ${label}: ${seen}: ${plan.why}`);
        if (plan.contTarget) await qmpDo(env, vc.name, vm, target as string, cont);
        if (plan.stopSource) await haltOnNode(env, vc, source, [vm]);
        return { holder: target, plan: plan.kind, acted: acted || plan.contTarget || plan.stopSource };
      case 'source':
        if (plan.cancelMigration) {
          log(`recovery: ${label}: ${seen}: ${plan.why}`);
          await qmpDo(env, vc.name, vm, source, migrateCancel);
          acted = true;
          // The stream may still end either way (cancelled, or completed in its last stage): decide again from what it did.
          await new Promise((r) => setTimeout(r, 300));
          continue;
        }
        if (plan.stopTarget || plan.contSource) log(`recovery: ${label}: ${seen}: ${plan.why}`);
        // The target first: once it is gone it cannot take over while the source resumes.
        if (plan.stopTarget) await haltOnNode(env, vc, target as string, [vm]);
        if (plan.contSource) await qmpDo(env, vc.name, vm, source, cont);
        return { holder: source, plan: plan.kind, acted: acted || plan.stopTarget || plan.contSource };
      case 'lost':
        log(`recovery: ${label}: ${seen}: ${plan.why}`);
        if (plan.stopTarget) await haltOnNode(env, vc, target as string, [vm]);
        if (plan.stopSource) await haltOnNode(env, vc, source, [vm]);
        return { holder: undefined, plan: plan.kind, acted: true };
    }
  }
}

export interface VcSettlement {
  /** VM → the node that holds it now (VMs with no copy anywhere are absent). */
  holders: Map<string, string>;
  /** VMs whose running state is gone (a copy stopped or none left where one should run). */
  lost: string[];
  /** VMs settled by stopping, cancelling or resuming something. */
  recovered: string[];
  unreachable: string[];
}

/**
 * For each VM of a VC: the copies on the nodes against the DB row. A VM with copies on two
 * nodes is settled (roles from the DB: while it is 'migrating' its mapped node is the source;
 * after a move recorded its end, the mapped node is the target). A single copy elsewhere than
 * the DB says is where the VM is. Three or more copies are a case for a person.
 */
export async function settleVc(env: VcEnv, vc: VcRow, rows: VmRow[], log: (l: string) => void): Promise<VcSettlement> {
  const scan = await scanVc(env, vc.name);
  const holders = new Map<string, string>();
  const lost: string[] = [];
  const recovered: string[] = [];
  await Promise.all(rows.map(async (row) => {
    const nodes = scan.copies.get(row.name) ?? [];
    if (nodes.length === 0) return;
    if (nodes.length === 1) {
      const only = nodes[0];
      if (row.node === only && row.state !== 'migrating') return void holders.set(row.name, only);
      // A lone copy of a VM that was migrating is asked what it is (a source that handed the
      // guest over to a target gone since must not be resumed); one found elsewhere than the
      // DB says is taken as the truth only if it holds the guest.
      const [source, target] = row.state === 'migrating' && row.node
        ? (row.node === only ? [only, undefined] : [row.node, only])
        : [only, row.node ?? undefined];
      const r = await settleVm(env, vc, row.name, source, target, log);
      if (r.holder) holders.set(row.name, r.holder);
      else lost.push(row.name);
      if (r.acted) recovered.push(row.name);
      return;
    }
    if (nodes.length > 2) {
      throw new VlxError('conflict', `${vc.name}/${row.name}: QEMU runs on ${nodes.length} nodes (${nodes.join(', ')})`, 'stop the copies that should not run by hand');
    }
    const other = nodes.find((n) => n !== row.node) as string;
    const mapped = row.node && nodes.includes(row.node) ? row.node : nodes.find((n) => n !== other) as string;
    const [source, target] = row.state === 'migrating' ? [mapped, other] : [other, mapped];
    const r = await settleVm(env, vc, row.name, source, target, log);
    if (r.holder) holders.set(row.name, r.holder);
    else lost.push(row.name);
    if (r.acted) recovered.push(row.name);
  }));
  return { holders, lost, recovered, unreachable: scan.unreachable };
}
