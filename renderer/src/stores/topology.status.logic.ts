import { busyWith, moveAction, type DbMember, type DbStatus, type EvacuationPlan, type EvacuationStep, type VmState } from '../../../main/api/contract.js';

/**
 * What the lanes and chips show of the cluster's moving parts, decided from what main/ says:
 * a VM's state and the tasks that run (the domain's move rule decides what may be dragged),
 * the database members' roles (db.status), and an evacuation's plan (node.evacuatePlan).
 */

/** VM states a workflow sets while it acts on the VM (vc start/stop/save/restore, vm move). */
export const TRANSIT_STATES: ReadonlySet<VmState> = new Set(['starting', 'migrating', 'saving', 'stopping']);

export interface TaskBrief { id: string; kind: string; target: string; state: string; interrupted?: boolean }

/** A local move the window asked for and has not yet seen end. */
export interface LocalMove { to: string; state: 'moving' | 'done' | 'failed' }

export interface Transit {
  /** the chip's badge, e.g. "migrating → n2", "saving", "stopping (interrupted)" */
  word: string;
  /** a live task acts on it now (spinner); false: a task left it so and no longer runs */
  live: boolean;
  /** why a drag is refused, in the domain's words; absent: it may be dragged */
  refusal?: string;
}

const KIND_WORD: Record<string, string> = {
  'vc.start': 'starting', 'vc.stop': 'stopping', 'vc.save': 'saving', 'vc.restore': 'restoring', 'vc.destroy': 'destroying', 'vm.move': 'moving',
};

/** What acts on a VM, from the tasks that run and the move this window asked for. */
export function busyFor(vc: string, vm: string, tasks: readonly TaskBrief[], move?: LocalMove): string | undefined {
  return busyWith(vc, vm, tasks) ?? (move?.state === 'moving' ? `a move to ${move.to} runs` : undefined);
}

/**
 * Whether a chip is in transit, and the badge it wears. The drag refusal is the domain's
 * moveAction with the live task as `busy`: the same words the service's vm.planMove answers.
 */
export function chipTransit(chip: { vc: string; name: string; state: VmState; node?: string }, tasks: readonly TaskBrief[], move?: LocalMove): Transit | undefined {
  const busy = busyFor(chip.vc, chip.name, tasks, move);
  const running = tasks.find((t) => t.state === 'running' && !t.interrupted && (t.target === `${chip.vc}/${chip.name}` || t.target === chip.vc));
  const transitState = TRANSIT_STATES.has(chip.state);
  if (!busy && !transitState) return undefined;
  const refusal = busy ? moveAction({ vc: chip.vc, vm: chip.name, state: chip.state, node: chip.node ?? null, busy }, '').reason : undefined;
  const to = move?.state === 'moving' ? move.to : undefined;
  const base = transitState ? chip.state : (running ? KIND_WORD[running.kind] : undefined) ?? (to ? 'moving' : 'busy');
  const word = (base === 'migrating' || base === 'moving') && to ? `${base} → ${to}` : base;
  if (!busy) return { word: `${word} (interrupted)`, live: false };
  return { word, live: true, ...(refusal ? { refusal } : {}) };
}

// ---------------------------------------------------------------- database roles

export interface DbRole { role: DbMember['role']; label: string; tone: 'good' | 'info' | 'bad' | 'muted'; title: string }

const ROLE_LABEL: Record<DbMember['role'], string> = {
  primary: 'DB primary', sync_standby: 'DB sync standby', standby: 'DB async standby', other: 'DB member', unreachable: 'DB unreachable',
};
const ROLE_TONE: Record<DbMember['role'], DbRole['tone']> = { primary: 'good', sync_standby: 'info', standby: 'info', other: 'muted', unreachable: 'bad' };

/** Each member's role by node, as db.status reports it. */
export function dbRoles(db: DbStatus | undefined): Map<string, DbRole> {
  const out = new Map<string, DbRole>();
  for (const m of db?.members ?? []) {
    const lag = m.lagBytes !== undefined && m.role !== 'primary' ? `, ${m.lagBytes} bytes behind` : '';
    const tl = m.timeline !== undefined ? `, timeline ${m.timeline}` : '';
    const label = m.role === 'other' ? `DB ${m.state}` : ROLE_LABEL[m.role];
    out.set(m.node, { role: m.role, label, tone: ROLE_TONE[m.role], title: `cluster database on ${m.host}: ${m.role.replace('_', ' ')} (${m.state}${tl}${lag})` });
  }
  return out;
}

/** The status bar's line on the database: absent when the cluster has no replicated database to speak of. */
export function dbSummary(db: DbStatus | undefined, error?: string): { text: string; tone: 'good' | 'bad' } | undefined {
  if (!db) return error ? { text: `Cluster DB: ${error}`, tone: 'bad' } : undefined;
  const members = db.members ?? [];
  const primary = db.primary ?? members.find((m) => m.role === 'primary')?.node;
  if (members.length === 0) return db.reachable ? undefined : { text: 'Cluster DB not reachable', tone: 'bad' };
  if (!primary) return { text: 'Cluster DB: no primary (writes wait)', tone: 'bad' };
  const down = members.filter((m) => m.role === 'unreachable').length;
  return { text: `DB primary: ${primary}${down ? ` · ${down} member${down === 1 ? '' : 's'} unreachable` : ''}`, tone: down ? 'bad' : 'good' };
}

// ---------------------------------------------------------------- evacuation

export const EVAC_ACTION_WORD: Record<EvacuationStep['action'], string> = {
  live: 'live migration', cold: 'stop here, start there', stop: 'stop', remap: 'saved: remapped', none: 'nothing to do', refuse: 'refused',
};

/** A live step's way out if its migration fails, as the plan table says it. */
export const EVAC_FALLBACK_WORD: Record<NonNullable<EvacuationStep['fallback']>, string> = {
  cold: 'if it fails: reboot there', stop: 'if it fails: stop',
};

/** The confirmation's title, button and counts for a plan. */
export function evacuationSummary(plan: EvacuationPlan): { title: string; button?: string; moving: number; refused: number } {
  const moving = plan.steps.filter((s) => s.action !== 'refuse' && s.action !== 'none').length;
  const refused = plan.steps.filter((s) => s.action === 'refuse').length;
  if (plan.steps.length === 0) return { title: `Evacuate ${plan.node}? No VM runs there`, button: `Put ${plan.node} in maintenance`, moving, refused };
  const title = `Evacuate ${plan.node}: ${moving} VM${moving === 1 ? '' : 's'} move${moving === 1 ? 's' : ''}${refused ? `, ${refused} refused` : ''}`;
  return { title, button: `Evacuate ${plan.node}`, moving, refused };
}
