import { VlxError } from '../errors.js';
import { place, type Mode, type PlaceNode, type Policy } from './place.js';

/**
 * Where each VM of a node goes when the node is emptied (pure). Each VC's VMs on the node are
 * placed together by that VC's own policy and mode over what the other live nodes have left,
 * VC after VC, so `cyclic` still spreads and `strict` still never over-commits. A VM that fits
 * nowhere is refused with placement's own message; the others still move.
 *
 * The action follows the VM's state and the mode asked for:
 * - running: `live` (live migration), `cold` (stopped here, started there) or `stop` (stopped, stays stopped);
 * - saved: `remap` (its state file is on shared storage: only the mapping changes);
 * - stopped: `none` (it is placed when its VC starts, and placement skips a node in maintenance);
 * - anything in between (starting, migrating, …): refused until it settles.
 *
 * The fallback is what happens to a running VM when live migration is not to be had: one that
 * fits nowhere is stopped instead of refused with `stop` (it is placed when its VC starts;
 * `cold` needs a target as much as live does, so it changes nothing there), and each live
 * step carries what is done if the migration itself fails when the task runs.
 */
export type EvacuationMode = 'live' | 'cold' | 'stop';
export type EvacuationFallback = 'none' | 'cold' | 'stop';
export type EvacuationAction = 'live' | 'cold' | 'stop' | 'remap' | 'none' | 'refuse';

export interface EvacuatingVm {
  vc: string;
  vm: string;
  state: string;
  vcpus: number;
  memMb: number;
  policy: Policy;
  mode: Mode;
}

export interface EvacuationStep {
  vc: string;
  vm: string;
  from: string;
  to?: string;
  action: EvacuationAction;
  reason: string;
  /** a live step only: what the task does if the migration fails (absent: the VM stays, reported) */
  fallback?: 'cold' | 'stop';
}

const SETTLED_IDLE = new Set(['stopped', 'defined', 'created']);

function movingAction(v: EvacuatingVm, mode: EvacuationMode): EvacuationAction | null {
  if (v.state === 'running') return mode;
  if (v.state === 'saved') return 'remap';
  return null;
}

function describe(a: EvacuationAction, who: string, from: string, to?: string): string {
  switch (a) {
    case 'live': return `${who} is live-migrated from ${from} to ${to}: it keeps running, with the same address`;
    case 'cold': return `${who} is stopped on ${from} and started on ${to} (a reboot)`;
    case 'stop': return `${who} is stopped and stays stopped; it is placed elsewhere when its VC starts`;
    case 'remap': return `${who} is saved: its saved state will be restored on ${to}`;
    default: return `${who}: nothing to do`;
  }
}

function ifLiveFails(fallback: EvacuationFallback, from: string, to: string): string {
  if (fallback === 'cold') return `; if the live migration fails, it is stopped on ${from} and started on ${to} (a reboot)`;
  if (fallback === 'stop') return '; if the live migration fails, it is stopped and stays stopped';
  return ''; // none: a failed migration leaves the VM where it is, and the task reports it
}

export function planEvacuation(node: string, vms: readonly EvacuatingVm[], nodes: readonly PlaceNode[], mode: EvacuationMode, fallback: EvacuationFallback = 'none'): EvacuationStep[] {
  if (!nodes.some((n) => n.name === node)) throw new VlxError('not-found', `${node} is not a node of this cluster`);
  const free = nodes.filter((n) => n.name !== node).map((n) => ({ ...n }));
  const out: EvacuationStep[] = [];
  const byVc = new Map<string, EvacuatingVm[]>();
  for (const v of vms) byVc.set(v.vc, [...(byVc.get(v.vc) ?? []), v]);

  for (const group of byVc.values()) {
    const movers: EvacuatingVm[] = [];
    for (const v of group) {
      const who = `${v.vc}/${v.vm}`;
      const a = movingAction(v, mode);
      if (a === 'stop') out.push({ vc: v.vc, vm: v.vm, from: node, action: 'stop', reason: describe('stop', who, node) });
      else if (a) movers.push(v);
      else if (SETTLED_IDLE.has(v.state)) out.push({ vc: v.vc, vm: v.vm, from: node, action: 'none', reason: `${who} is ${v.state}: it is placed when its VC starts` });
      else out.push({ vc: v.vc, vm: v.vm, from: node, action: 'refuse', reason: `${who} is ${v.state}: wait until it settles, then evacuate again` });
    }
    if (movers.length === 0) continue;
    const { policy, mode: vcMode } = movers[0]!;
    const assign = (v: EvacuatingVm, to: string) => {
      const n = free.find((x) => x.name === to)!;
      n.usedCores += v.vcpus;
      n.usedMemMb += v.memMb;
      const a = movingAction(v, mode)!;
      const reason = describe(a, `${v.vc}/${v.vm}`, node, to);
      if (a === 'live') out.push({ vc: v.vc, vm: v.vm, from: node, to, action: a, reason: reason + ifLiveFails(fallback, node, to), ...(fallback !== 'none' ? { fallback } : {}) });
      else out.push({ vc: v.vc, vm: v.vm, from: node, to, action: a, reason });
    };
    const tryPlace = (list: EvacuatingVm[]): Record<string, string> | string => {
      try {
        return place(list.map((v) => ({ name: v.vm, vcpus: v.vcpus, memMb: v.memMb })), free, policy, vcMode).mapping;
      } catch (e) {
        if (e instanceof VlxError && e.code === 'placement') return e.message;
        throw e;
      }
    };
    const all = tryPlace(movers);
    if (typeof all !== 'string') {
      for (const v of movers) assign(v, all[v.vm]!);
      continue;
    }
    // Not all fit: place them one by one, so those that fit still go and the rest say why.
    for (const v of movers) {
      const one = tryPlace([v]);
      if (typeof one !== 'string') assign(v, one[v.vm]!);
      else if (fallback === 'stop' && v.state === 'running') {
        out.push({ vc: v.vc, vm: v.vm, from: node, action: 'stop', reason: `${v.vc}/${v.vm} cannot move (${one}): it is stopped instead (fallback) and placed elsewhere when its VC starts` });
      } else out.push({ vc: v.vc, vm: v.vm, from: node, action: 'refuse', reason: `${v.vc}/${v.vm} cannot move: ${one}` });
    }
  }
  return out;
}

/** The plan can be carried out with nothing refused (`--dry-run` exits non-zero otherwise). */
export function planComplete(steps: readonly EvacuationStep[]): boolean {
  return steps.every((s) => s.action !== 'refuse');
}
