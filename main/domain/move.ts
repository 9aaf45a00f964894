/**
 * What moving one VM to a node does, from the VM's state: the one copy of the
 * migrate-or-relocate rule, used by the drag confirmation, `vlx vm move` and the workflow.
 * A running VM is live-migrated (no reboot, same address); a saved one is restored on the
 * target (relocated); a VM left 'migrating' by an interrupted move is migrated again (the
 * workflow first settles which side holds the guest). Anything else cannot move: a stopped VM
 * is placed when its VC starts.
 */
export type MoveAction = 'migrate' | 'relocate' | 'none' | 'refuse';

export interface MovableVm {
  vc: string;
  vm: string;
  state: string;
  node?: string | null;
  /**
   * What acts on the VM right now (a running task: its kind and id), if anything. A VM a live
   * task works on is in transit and cannot be moved again until that task ends; a VM an
   * interrupted task left 'migrating' has no live task, so moving it again resumes the move.
   */
  busy?: string | undefined;
}

export function moveAction(v: MovableVm, to: string): { action: MoveAction; reason: string } {
  const who = `${v.vc}/${v.vm}`;
  if (v.busy) return { action: 'refuse', reason: `${who} is ${v.state} (${v.busy}): it can move once that ends` };
  if (v.node === to && v.state !== 'migrating') return { action: 'none', reason: `${who} is already on ${to}` };
  if ((v.state === 'running' || v.state === 'migrating') && v.node) {
    return { action: 'migrate', reason: `${who} is live-migrated from ${v.node} to ${to}: it keeps running, with the same address` };
  }
  if (v.state === 'saved' && v.node) return { action: 'relocate', reason: `${who} is restored from its saved state on ${to}` };
  return { action: 'refuse', reason: `${who} is ${v.state}: only a running or saved VM can move (a stopped VM is placed when its VC starts)` };
}

export interface TaskLike {
  id: string;
  kind: string;
  target: string;
  state: string;
  /** stored as running, but no process runs it any more */
  interrupted?: boolean;
}

/**
 * The live task acting on a VM, in words for `MovableVm.busy`: one that runs (not interrupted)
 * and targets the VM itself or its whole VC. An interrupted one does not count: re-running
 * is how it resumes.
 */
export function busyWith(vc: string, vm: string, tasks: Iterable<TaskLike>): string | undefined {
  for (const t of tasks) {
    if (t.state !== 'running' || t.interrupted) continue;
    if (t.target === `${vc}/${vm}` || t.target === vc) return `${t.kind} task ${t.id.slice(0, 8)} runs`;
  }
  return undefined;
}
