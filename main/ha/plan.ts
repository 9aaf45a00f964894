import { place, type Mode, type PlaceNode, type Policy } from '../placement/place.js';
import { ACTIVE_VM_STATES } from '../cluster/repo.js';

/**
 * What HA restart does with the VMs of nodes that are confirmed down (pure): which VM is
 * restarted where, in which order, and which is left stopped or refused, with the reason.
 *
 * - Only an HA VM is restarted, and only when its node's own watchdog was armed at its last
 *   renewal (main/ha/timing.ts): otherwise the node may merely be cut off and still run it.
 * - Priority first (higher first, across VCs): when capacity is short, the VMs that do not fit
 *   are the lowest in priority.
 * - Placed by the VC's own policy and mode over the live capacity left by the VCs before it.
 * - Started by start order within the VC (lower first; VMs of one order start together).
 */

export interface HaMarks {
  ha: boolean;
  priority: number;
  /** start order within the VC; null: the VM's index */
  order: number | null;
}

export interface LostVm extends HaMarks {
  vc: string;
  vm: string;
  idx: number;
  /** the node that is down */
  node: string;
  vcpus: number;
  memMb: number;
  policy: Policy;
  mode: Mode;
  /** the node's watchdog said at its last renewal that it fences itself */
  armed: boolean;
}

export type RestartDecision =
  | { vc: string; vm: string; from: string; action: 'restart'; to: string; priority: number; order: number }
  | { vc: string; vm: string; from: string; action: 'left-stopped' | 'refused'; reason: string; priority: number; order: number };

export const HA_PRIORITY = { min: -1000, max: 1000 } as const;
export const HA_ORDER = { min: 0, max: 1000 } as const;

/** A VM's own marks over its VC's (null: the VC's). */
export function effectiveMarks(vc: { ha: boolean; priority: number }, vm: { ha: boolean | null; priority: number | null; order: number | null }): HaMarks {
  return { ha: vm.ha ?? vc.ha, priority: vm.priority ?? vc.priority, order: vm.order };
}

const orderOf = (v: Pick<LostVm, 'order' | 'idx'>): number => v.order ?? v.idx;

/** The order in which lost VMs are considered: priority (high first), VC, start order, index. */
export function restartOrder<T extends Pick<LostVm, 'vc' | 'idx' | 'priority' | 'order'>>(vms: readonly T[]): T[] {
  return [...vms].sort((a, b) => b.priority - a.priority || (a.vc < b.vc ? -1 : a.vc > b.vc ? 1 : 0) || orderOf(a) - orderOf(b) || a.idx - b.idx);
}

export function planRestart(lost: readonly LostVm[], nodes: readonly PlaceNode[]): RestartDecision[] {
  const free = nodes.map((n) => ({ ...n }));
  const down = new Set(lost.map((v) => v.node));
  for (const n of free) if (down.has(n.name)) n.alive = false;
  const out: RestartDecision[] = [];
  const base = (v: LostVm) => ({ vc: v.vc, vm: v.vm, from: v.node, priority: v.priority, order: orderOf(v) });
  const wanted: LostVm[] = [];
  for (const v of restartOrder(lost)) {
    if (!v.ha) out.push({ ...base(v), action: 'left-stopped', reason: `not HA: left stopped (its node ${v.node} is down)` });
    else if (!v.armed) out.push({ ...base(v), action: 'refused', reason: `its node ${v.node} had no armed watchdog at its last renewal: it may still run there` });
    else wanted.push(v);
  }
  // VCs in the order of their first (highest-priority) VM; each VC placed by its own policy.
  const vcs = [...new Set(wanted.map((v) => v.vc))];
  for (const vc of vcs) {
    let group = wanted.filter((v) => v.vc === vc);
    const { policy, mode } = group[0]!;
    for (;;) {
      if (group.length === 0) break;
      try {
        const { mapping } = place(group.map((v) => ({ name: v.vm, vcpus: v.vcpus, memMb: v.memMb })), free, policy, mode);
        for (const v of group) {
          const to = mapping[v.vm]!;
          const n = free.find((x) => x.name === to)!;
          n.usedCores += v.vcpus;
          n.usedMemMb += v.memMb;
          out.push({ ...base(v), action: 'restart', to });
        }
        break;
      } catch (e) {
        // Too little room: the lowest in priority (last in order) waits, the rest are tried again.
        const last = group[group.length - 1]!;
        out.push({ ...base(last), action: 'refused', reason: `no room on the live nodes: ${(e as Error).message}` });
        group = group.slice(0, -1);
      }
    }
  }
  return out.sort((a, b) => b.priority - a.priority || (a.vc < b.vc ? -1 : a.vc > b.vc ? 1 : 0) || a.order - b.order);
}

/** The restarts of one VC as start waves: one per start order, lower first; a wave starts together. */
export function startWaves(decisions: readonly RestartDecision[], vc: string): { order: number; vms: { vm: string; to: string }[] }[] {
  const mine = decisions.filter((d): d is Extract<RestartDecision, { action: 'restart' }> => d.vc === vc && d.action === 'restart');
  const orders = [...new Set(mine.map((d) => d.order))].sort((a, b) => a - b);
  return orders.map((order) => ({ order, vms: mine.filter((d) => d.order === order).map((d) => ({ vm: d.vm, to: d.to })) }));
}

/**
 * The claim: one row per (VM, node it was lost on, since when it was there). Two workstations
 * that notice the same loss insert the same key; the database keeps one, and only the one whose
 * insert went through acts. A VM restarted elsewhere and lost again later has a new key.
 */
export function claimKey(v: { vc: string; vm: string; node: string; since: string }): string {
  return `${v.vc}/${v.vm}@${v.node}#${v.since}`;
}

/**
 * Whether a VM of a lost node may be claimed now: its node is confirmed down by the health rule
 * (no answer, lease run out more than the margin ago; main/health/state.ts), it was active
 * there (a stopped or saved VM has nothing to restart), and its stay there is not claimed yet.
 */
export function mayClaim(v: { state: string; confirmedDown: boolean; claimed: boolean }): boolean {
  return v.confirmedDown && !v.claimed && ACTIVE.has(v.state);
}

const ACTIVE = new Set<string>(ACTIVE_VM_STATES);
