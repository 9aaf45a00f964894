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
}

export function moveAction(v: MovableVm, to: string): { action: MoveAction; reason: string } {
  const who = `${v.vc}/${v.vm}`;
  if (v.node === to && v.state !== 'migrating') return { action: 'none', reason: `${who} is already on ${to}` };
  if ((v.state === 'running' || v.state === 'migrating') && v.node) {
    return { action: 'migrate', reason: `${who} is live-migrated from ${v.node} to ${to}: it keeps running, with the same address` };
  }
  if (v.state === 'saved' && v.node) return { action: 'relocate', reason: `${who} is restored from its saved state on ${to}` };
  return { action: 'refuse', reason: `${who} is ${v.state}: only a running or saved VM can move (a stopped VM is placed when its VC starts)` };
}
