import { checkName } from '../util/names.js';
import type { TaskSummary } from '../tasks/types.js';
import type { SnapshotList, SnapshotNodeT } from '../api/contract.js';
import { getVc } from '../cluster/repo.js';
import { headsOf, snapshotsOf, vcHead } from '../cluster/snapshotRepo.js';
import { checkNewTag, checkTag, findSnapshot, snapshotTree, type SnapshotTreeNode } from '../domain/snapshotPlan.js';
import { deleteSnapshotWorkflow, rollbackWorkflow, snapshotWorkflow } from '../workflows/snapshot.js';
import type { VcRunOptions, VcService } from './vcCore.js';

/**
 * VC snapshots for every face: input checked before the task's first write (the VC exists,
 * the tag is a name and, for a new one, free), then the workflow runs as a task of the VC.
 */
export async function takeSnapshot(s: VcService, vc: string, tag: string, withMemory: boolean, opts: VcRunOptions = {}): Promise<TaskSummary> {
  checkName('vc', vc, 'vc');
  checkTag(tag);
  await getVc(s.env.db, vc);
  checkNewTag(tag, await snapshotsOf(s.env.db, vc), vc);
  return s.run(snapshotWorkflow(s.env, vc, tag, withMemory), opts);
}

/**
 * A running VC runs again after the rollback; a snapshot with memory always resumes from its
 * RAM states (that is what it was taken for), a stopped VC otherwise stays stopped.
 */
export async function rollbackTo(s: VcService, vc: string, tag: string, opts: VcRunOptions = {}): Promise<TaskSummary> {
  checkName('vc', vc, 'vc');
  checkTag(tag);
  const row = await getVc(s.env.db, vc);
  const snap = findSnapshot(await snapshotsOf(s.env.db, vc), tag, vc);
  const withMemory = snap.withMemory;
  const restart = withMemory || row.state === 'running' || row.state === 'starting';
  return s.run(rollbackWorkflow(s.env, vc, { tag, restart, withMemory, policy: row.policy, mode: row.mode }), opts);
}

export async function deleteSnapshot(s: VcService, vc: string, tag: string, opts: VcRunOptions = {}): Promise<TaskSummary> {
  checkName('vc', vc, 'vc');
  checkTag(tag);
  await getVc(s.env.db, vc);
  findSnapshot(await snapshotsOf(s.env.db, vc), tag, vc);
  return s.run(deleteSnapshotWorkflow(s.env, vc, tag), opts);
}

const toNode = (n: SnapshotTreeNode): SnapshotNodeT => ({ ...n.snapshot, current: n.current, children: n.children.map(toNode) });

export async function listSnapshots(s: VcService, vc: string): Promise<SnapshotList> {
  checkName('vc', vc, 'vc');
  await getVc(s.env.db, vc);
  const [snaps, heads, head] = await Promise.all([snapshotsOf(s.env.db, vc), headsOf(s.env.db, s.env.paths, vc), vcHead(s.env.db, vc)]);
  return { vc, head: head.tag, heads, tree: snapshotTree(snaps, head.tag).map(toNode) };
}
