import { VlxError, invalid } from '../errors.js';
import { runWorkflow, type RunOptions } from '../tasks/runner.js';
import { getTask, listTasks } from '../tasks/store.js';
import type { TaskSummary, WorkflowDef } from '../tasks/types.js';
import { parseVcSpec } from '../domain/vcSpec.js';
import { supersedeTasks } from '../cluster/repo.js';
import type { VcEnv } from '../cluster/env.js';
import type { Mode, Policy } from '../placement/place.js';
import { readImageMeta } from '../vm/vmOps.js';
import { createWorkflow, destroyWorkflow, restoreWorkflow, saveWorkflow, startWorkflow, stopWorkflow } from './vc.js';
import { moveWorkflow } from './move.js';
import { deleteSnapshotWorkflow, rollbackWorkflow, snapshotWorkflow, type RollbackParams } from './snapshot.js';

/**
 * `vlx tasks resume ID` from any workstation: the task's workflow is rebuilt from what the
 * DB recorded (kind, target, params) and run again; the runner continues it from its first
 * step not done (every step settles from what runs on the nodes, so the interrupted step
 * simply runs again). Only the latest task of its kind and target can be resumed: a later
 * one has already acted on the VC since.
 */
export async function workflowForTask(env: VcEnv, t: Pick<TaskSummary, 'kind' | 'target' | 'params'>): Promise<WorkflowDef> {
  const p = t.params ?? {};
  switch (t.kind) {
    case 'vc.create': {
      const spec = parseVcSpec(p);
      return createWorkflow(env, spec, await readImageMeta(env, spec.image));
    }
    case 'vc.start':
      return startWorkflow(env, t.target, p.policy as Policy, p.mode as Mode, p.boot === 'cold' ? 'cold' : 'warm');
    case 'vc.stop':
      return stopWorkflow(env, t.target, typeof p.timeoutS === 'number' ? p.timeoutS : 30);
    case 'vc.save':
      return saveWorkflow(env, t.target);
    case 'vc.restore':
      return restoreWorkflow(env, t.target, p.policy as Policy | undefined, p.mode as Mode | undefined);
    case 'vc.destroy':
      return destroyWorkflow(env, t.target);
    case 'vm.move': {
      const [vc, vm] = t.target.split('/');
      if (!vc || !vm || typeof p.to !== 'string') throw invalid('task', 'a vm.move task names VC/VM and a target node', t.target);
      return moveWorkflow(env, { vc, vm, to: p.to });
    }
    case 'vc.snapshot':
      return snapshotWorkflow(env, t.target, String(p.tag), p.withMemory === true);
    case 'vc.rollback':
      return rollbackWorkflow(env, t.target, p as unknown as RollbackParams);
    case 'vc.snapshot-delete':
      return deleteSnapshotWorkflow(env, t.target, String(p.tag));
    default:
      throw invalid('task kind', 'must be a VC task (vc.create, vc.start, vc.stop, vc.save, vc.restore, vc.destroy, vm.move, vc.snapshot, vc.rollback, vc.snapshot-delete)', t.kind);
  }
}

export async function resumeTask(env: VcEnv, idOrPrefix: string, opts: Pick<RunOptions, 'onEvent' | 'signal'> = {}): Promise<TaskSummary> {
  const t = await getTask(env.db, idOrPrefix, 0);
  if (t.state === 'succeeded') throw new VlxError('conflict', `task ${t.id} has already succeeded: nothing to resume`);
  if (t.state === 'running' && !t.interrupted) {
    throw new VlxError('conflict', `task ${t.id} is still running (on ${t.host ?? 'another workstation'})`, 'wait for it, or cancel it with `vlx tasks cancel ID`');
  }
  const [latest] = await listTasks(env.db, { kind: t.kind, target: t.target, limit: 1, all: true });
  if (latest && latest.id !== t.id) {
    throw new VlxError('conflict', `task ${t.id} was followed by task ${latest.id} (${t.kind} ${t.target}): resume that one, or run the command again`);
  }
  const def = await workflowForTask(env, t);
  // As the service does for a new run: other kinds' unfinished tasks of this VC are stale once this one acts.
  if (def.lockKey && !(await env.db.isLocked(def.lockKey))) await supersedeTasks(env.db, t.target.split('/')[0], def.kind);
  return runWorkflow(env.db, def, opts);
}
