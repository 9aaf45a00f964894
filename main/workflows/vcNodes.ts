import type { StepContext } from '../tasks/types.js';
import { setMapping, type VcRow, type VmRow } from '../cluster/repo.js';
import type { VcEnv } from '../cluster/env.js';
import { haltOnNode } from '../vm/vmOps.js';
import { settleVc } from '../vm/settle.js';

/**
 * What the VC workflows share about the nodes as they are: grouping VMs by node, settling
 * VMs whose QEMUs disagree with the DB, stopping a VC's QEMUs wherever they are, and
 * reporting the VMs of nodes that do not answer (they are neither stopped nor lost for
 * sure: their state is unknown until the node is back).
 */
export function byNode(vms: VmRow[]): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const v of vms) {
    if (!v.node) continue;
    const list = m.get(v.node) ?? [];
    list.push(v.name);
    m.set(v.node, list);
  }
  return m;
}

/**
 * Settle the given VMs from what runs on the nodes (main/vm/settle) and point the DB's
 * mapping at the node that holds each. Returns the VMs whose running state is gone and the
 * nodes that did not answer.
 */
export async function settleAndMap(env: VcEnv, vc: VcRow, rows: VmRow[], ctx: StepContext): Promise<{ lost: string[]; unreachable: string[] }> {
  const s = await settleVc(env, vc, rows, ctx.log);
  const moved: Record<string, string> = {};
  for (const r of rows) {
    const h = s.holders.get(r.name);
    if (h && h !== r.node) moved[r.name] = h;
  }
  if (Object.keys(moved).length) {
    await setMapping(env.db, vc.name, moved);
    ctx.log(`recovery: the DB now maps ${Object.entries(moved).map(([v, n]) => `${v} to ${n}`).join(', ')}, where it runs`);
  }
  return { lost: s.lost, unreachable: s.unreachable };
}

/** Kill every QEMU of these VMs on every node that answers; returns the nodes that did not. */
export async function haltEverywhere(env: VcEnv, vc: VcRow, vms: string[], ctx: StepContext): Promise<string[]> {
  const nodes = env.session.nodes().map((n) => n.name);
  const unreachable: string[] = [];
  await Promise.all(nodes.map(async (node) => {
    try {
      const killed = await haltOnNode(env, vc, node, vms);
      if (killed.length) ctx.log(`${node}: stopped hard: ${killed.join(', ')}`);
    } catch (e) {
      unreachable.push(node);
      ctx.log(`${node}: not reachable, skipped: ${(e as Error).message.split('\n')[0]}`);
    }
  }));
  return unreachable;
}

/**
 * Log each VM of a node that does not answer as unknown and put them in the step's note,
 * which stays in the task's result. Returns their names.
 */
export function reportUnreachable(ctx: StepContext, vc: string, rows: VmRow[], unreachable: string[], what: string): string[] {
  const lost = rows.filter((r) => r.node && unreachable.includes(r.node));
  if (lost.length === 0) return [];
  for (const r of lost) ctx.log(`${vc}/${r.name}: unknown: its node ${r.node} does not answer (${what})`);
  ctx.progress(1, unknownNote(lost));
  return lost.map((r) => r.name);
}

export function unknownNote(rows: Pick<VmRow, 'name' | 'node'>[]): string {
  return `unknown, node not reachable: ${rows.map((r) => `${r.name} on ${r.node}`).join(', ')}`;
}
