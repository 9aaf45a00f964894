/**
 * What to do with a live migration that was interrupted (the workstation killed, its
 * connection lost, a node crashed) at any instant. Pure: it decides from the two QEMUs as
 * they are now (QMP `query-status` of each, `query-migrate` of the source), never from what
 * the database believed when it was written. The I/O around it (main/vm/observe.ts and the
 * move workflow) observes, acts on the plan, and observes again until the plan is final.
 *
 * The rule that overrides every other: **a source whose target may have run is never
 * resumed.** Once the target QEMU has executed guest code it may have written the VM's disk
 * (shared storage) and sent packets under the VM's address; the source's RAM is a snapshot
 * from before that. Resuming it would run a guest whose memory no longer matches its disk —
 * silent file-system corruption — and, if the target still runs, two copies of one guest.
 * The target "may have run" as soon as it has loaded the whole stream (any state other than
 * `inmigrate`), and also when it is gone or out of reach after the source reported the
 * migration `completed`: nothing then proves it did not run. In those cases the target is
 * kept (or the guest's running state is declared lost); the source is only ever stopped.
 */

/** A QEMU of the VM on one node, as observed. */
export type SideState =
  /** The node answered and no QEMU of this VM runs on it. */
  | 'missing'
  /** The node did not answer: what runs there is unknown. */
  | 'unreachable'
  // QMP query-status values:
  | 'running'
  /** Paused by `stop` (or restored from a state saved while paused). */
  | 'paused'
  /** Started with -S and never continued. */
  | 'prelaunch'
  /** Waiting for or loading an incoming migration: it has never run guest code. */
  | 'inmigrate'
  /** The source's last stage of a migration (vCPUs stopped, last pages sent). */
  | 'finish-migrate'
  /** The source after it handed the guest over (or after a failed migration of a paused guest). */
  | 'postmigrate'
  /** shutdown, internal-error, io-error, guest-panicked, watchdog, …: the guest no longer runs usefully. */
  | 'broken';

/** The source's `query-migrate` status; 'none' also when it was never asked (no source). */
export type MigrateState =
  | 'none' | 'setup' | 'active' | 'device' | 'pre-switchover' | 'postcopy-active' | 'wait-unplug' | 'cancelling'
  | 'completed' | 'failed' | 'cancelled';

export const SIDE_STATES: readonly SideState[] = [
  'missing', 'unreachable', 'running', 'paused', 'prelaunch', 'inmigrate', 'finish-migrate', 'postmigrate', 'broken',
];
export const MIGRATE_STATES: readonly MigrateState[] = [
  'none', 'setup', 'active', 'device', 'pre-switchover', 'postcopy-active', 'wait-unplug', 'cancelling',
  'completed', 'failed', 'cancelled',
];

/** QMP's run states mapped to the sides this module reasons about. */
export function sideFromRunState(status: string): SideState {
  switch (status) {
    case 'running': case 'paused': case 'prelaunch': case 'inmigrate': case 'finish-migrate': case 'postmigrate':
      return status;
    // Transient states of a savevm/loadvm or a suspend: the guest is intact but stopped.
    case 'suspended': case 'save-vm': case 'restore-vm': case 'debug':
      return 'paused';
    default:
      return 'broken';
  }
}

export interface Observed {
  source: SideState;
  /** The source's migration status (its last migration, from any client). */
  migration: MigrateState;
  target: SideState;
  /** We already waited long enough for a transition: stop waiting, act. */
  stuck?: boolean;
}

export type RecoveryPlan =
  /** A transition is under way (a migration still streaming, a target still loading): look again shortly. */
  | { kind: 'wait'; why: string }
  /** The move happened: the target holds the guest. Stop the source, fix routes and DB. */
  | { kind: 'target'; why: string; contTarget: boolean; stopSource: boolean }
  /** The move did not happen: the source holds the guest. Clean the target, resume the source if the migration paused it, then move again. */
  | { kind: 'source'; why: string; cancelMigration: boolean; stopTarget: boolean; contSource: boolean }
  /** No copy holds the guest's running state any more (it cannot be resumed safely): stop what is left; the VM boots again on its next start. */
  | { kind: 'lost'; why: string; stopSource: boolean; stopTarget: boolean }
  /** Cannot be decided without a node that does not answer, or a state no workflow of ours produces: touch nothing, tell the admin. */
  | { kind: 'manual'; why: string };

/** Migration statuses of a stream still in flight. */
const IN_FLIGHT = new Set<MigrateState>(['setup', 'active', 'device', 'pre-switchover', 'postcopy-active', 'wait-unplug', 'cancelling']);

/**
 * The target may have executed guest code: it has loaded the whole stream, or it is not
 * there to ask and the source says the stream was completed (postcopy runs the target
 * before completion). Exported for the table test of the rule above.
 */
export function targetMayHaveRun(o: Pick<Observed, 'target' | 'migration'>): boolean {
  if (o.target === 'inmigrate' || o.target === 'missing' || o.target === 'unreachable') {
    // Postcopy runs the target before the source completes; a completed stream may have run a target that died since.
    return o.target !== 'inmigrate' && (o.migration === 'completed' || o.migration === 'postcopy-active');
  }
  return true;
}

/** The source was paused by the migration itself (not by a user's `stop`), so it is ours to resume. */
function pausedByMigration(o: Observed): boolean {
  if (o.source === 'finish-migrate' || o.source === 'postmigrate') return true;
  return o.source === 'paused' && (o.migration === 'failed' || o.migration === 'cancelled');
}

const sourceStoppable = (s: SideState) => s !== 'missing' && s !== 'unreachable';

export function decideRecovery(o: Observed): RecoveryPlan {
  const { source: S, target: T, migration: M } = o;
  const stopSource = sourceStoppable(S);
  const stopTarget = T !== 'missing' && T !== 'unreachable';

  // Two copies running: something outside our workflows resumed one. Either may have
  // written the disk since; choosing one would hide that. (Never produced by a workflow.)
  if (S === 'running' && T === 'running') {
    return { kind: 'manual', why: 'both copies run the guest: it was resumed outside a workflow; stop the one that should not run by hand' };
  }

  // Postcopy (never started by us) runs the target while the source still holds part of the
  // memory: neither side alone is the guest until the source completes.
  if (M === 'postcopy-active') {
    if (T === 'running' && !o.stuck) return { kind: 'wait', why: 'a postcopy migration is still pulling pages to the running target' };
    return { kind: 'manual', why: 'a postcopy migration did not finish: the guest\'s memory is split between the two nodes' };
  }

  // --- the target has taken over (or may have) ------------------------------------------
  if (T === 'running') {
    return { kind: 'target', why: 'the target runs the guest: the migration completed', contTarget: false, stopSource };
  }
  if ((T === 'paused' || T === 'prelaunch') && S === 'running') {
    // The source only runs again after a hand-over if someone resumed it: then both have been live.
    return { kind: 'manual', why: `the target has loaded the guest (${T}) and the source runs it: one of them was resumed outside a workflow` };
  }
  if (T === 'paused' || T === 'prelaunch') {
    // Loaded the whole stream but not running (a paused guest was moved, or it was stopped
    // after it ran): it holds the latest state, the source only an older one.
    return { kind: 'target', why: `the target has loaded the guest (${T}): it holds the latest state`, contTarget: true, stopSource };
  }
  if (T === 'finish-migrate' || T === 'postmigrate') {
    return { kind: 'manual', why: `the target is itself handing the guest on (${T}): a migration no workflow of ours started` };
  }
  if (T === 'broken') {
    // The target ran and then failed; the source's memory is older than the disk.
    if (S === 'running') {
      // …unless the source never stopped: then the target never took over (the source only stops at completion).
      return { kind: 'source', why: 'the target failed while loading; the source never stopped', cancelMigration: IN_FLIGHT.has(M), stopTarget: true, contSource: false };
    }
    return { kind: 'lost', why: 'the target took over and then failed: the source\'s memory is older than the disk, so it is not resumed', stopSource, stopTarget: true };
  }

  // --- from here the target has not run: T is inmigrate, missing or unreachable ----------
  if (S === 'unreachable') {
    return { kind: 'manual', why: 'the source node does not answer: whether the guest still runs there is unknown' };
  }

  if (IN_FLIGHT.has(M) && (S === 'running' || S === 'finish-migrate' || S === 'paused' || S === 'postmigrate')) {
    if (T === 'inmigrate' && !o.stuck) return { kind: 'wait', why: `the migration is still ${M}` };
    // The stream has no receiver (target gone or out of reach), or it has been stuck too long: cancel it; the source resumes by itself.
    return { kind: 'source', why: `the migration (${M}) cannot finish: cancel it and keep the source`, cancelMigration: true, stopTarget, contSource: S === 'finish-migrate' || S === 'postmigrate' };
  }

  if (M === 'completed' && S !== 'running' && S !== 'missing') {
    // The source handed the whole guest over.
    if (T === 'inmigrate') {
      if (!o.stuck) return { kind: 'wait', why: 'the source completed; the target is still loading the guest' };
      return { kind: 'manual', why: 'the source completed, but the target stays in inmigrate: it may start any moment, so neither side is touched' };
    }
    if (T === 'unreachable') {
      return { kind: 'target', why: 'the source completed the migration; the target node does not answer but holds the guest', contTarget: false, stopSource };
    }
    // T missing: the target took the guest over and is gone since.
    return { kind: 'lost', why: 'the source completed the migration and the target is gone: it may have run, so the source is not resumed', stopSource, stopTarget: false };
  }

  switch (S) {
    case 'missing':
      if (T === 'unreachable') return { kind: 'manual', why: 'no source, and the target node does not answer: the guest may run there' };
      return { kind: 'lost', why: 'no QEMU holds the guest any more (an incoming target alone has nothing to run)', stopSource: false, stopTarget };
    case 'broken':
      return { kind: 'lost', why: 'the source QEMU is broken and the target never received the guest', stopSource: true, stopTarget };
    case 'inmigrate':
      // The source is itself still being restored or received: let that finish first.
      if (!o.stuck) return { kind: 'wait', why: 'the source is still loading the guest' };
      return { kind: 'manual', why: 'the source stays in inmigrate: it never finished loading the guest' };
    case 'running':
    case 'prelaunch':
      // The source has the guest; a target copy, if any, never ran (it is inmigrate, gone or out of reach).
      return { kind: 'source', why: T === 'missing' ? 'no migration is under way' : 'the source still runs the guest; the target never took over',
        cancelMigration: false, stopTarget, contSource: S === 'prelaunch' };
    case 'paused':
    case 'finish-migrate':
    case 'postmigrate':
      // The stream did not complete (failed, cancelled, or never started): the target never ran.
      return { kind: 'source', why: `the migration did not complete (${M}); the source holds the guest`,
        cancelMigration: false, stopTarget, contSource: pausedByMigration(o) };
  }
  // T === 'unreachable'/'missing' with S in a state not listed above is covered by the switch.
  return { kind: 'manual', why: `no rule for source ${S}, target ${T}, migration ${M}` };
}
