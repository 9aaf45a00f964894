import { VlxError } from '../errors.js';
import { checkPath } from './qemuArgs.js';
import type { QmpClient } from './qmp.js';

/**
 * The QMP side of VC snapshots on a running VM: which file its disk writes to, an external
 * snapshot (a new overlay on top), and a block-stream that merges a backing file into the
 * file above it while the guest runs. Disk i is the virtio device `disk<i>dev` (qemuArgs).
 */
interface BlockInfo {
  device: string;
  qdev?: string;
  inserted?: { file: string; 'node-name': string };
}

interface NamedNode {
  'node-name': string;
  drv: string;
  file: string;
}

/** The top of the disk's chain: the file the guest writes to, and its node. */
export async function diskTop(q: QmpClient, index = 0): Promise<{ file: string; node: string }> {
  const blocks = await q.execute<BlockInfo[]>('query-block');
  const dev = `disk${index}dev`;
  const b = blocks.find((x) => x.qdev === dev || (x.qdev ?? '').split('/').includes(dev));
  if (!b?.inserted) throw new VlxError('remote-failed', `${q.label}: no disk ${dev} in query-block`);
  return { file: b.inserted.file, node: b.inserted['node-name'] };
}

/** A new qcow2 overlay on top of the disk (QEMU creates it, backing onto the old top by its absolute path). */
export async function snapshotDisk(q: QmpClient, node: string, overlay: string, overlayNode: string): Promise<void> {
  await q.execute('blockdev-snapshot-sync', {
    'node-name': node, 'snapshot-file': checkPath(overlay, 'overlay'), 'snapshot-node-name': overlayNode, format: 'qcow2', mode: 'absolute-paths',
  });
}

async function nodeOf(q: QmpClient, file: string): Promise<string> {
  const nodes = await q.execute<NamedNode[]>('query-named-block-nodes', { flat: true });
  const n = nodes.find((x) => x.file === file && x.drv !== 'file');
  if (!n) throw new VlxError('conflict', `${q.label}: ${file} is not in this VM's disk chain`);
  return n['node-name'];
}

/**
 * Copy into `file` whatever it reads through its backing chain down to (not including) `base`,
 * then make `base` its backing file: a block-stream job, waited for; its error is QEMU's.
 */
export async function streamOnto(q: QmpClient, file: string, base: string, jobId: string, timeoutMs = 600_000): Promise<void> {
  const device = await nodeOf(q, file);
  const baseNode = await nodeOf(q, base);
  const done = q.waitEvent('BLOCK_JOB_COMPLETED', timeoutMs, (d) => d.device === jobId || d.id === jobId);
  // A rejected start leaves the wait pending: it is settled below so it never rejects unobserved.
  done.catch(() => undefined);
  try {
    await q.execute('block-stream', { 'job-id': jobId, device, 'base-node': baseNode });
  } catch (e) {
    throw new VlxError('remote-failed', `${q.label}: block-stream of ${file} onto ${base} refused: ${(e as Error).message}`);
  }
  const ev = await done;
  const err = ev.data?.error;
  if (typeof err === 'string') throw new VlxError('remote-failed', `${q.label}: block-stream of ${file} onto ${base} failed: ${err}`);
}
