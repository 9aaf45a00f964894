import { VlxError } from '../errors.js';
import { sh } from '../util/quote.js';
import { vmRuntimePaths } from '../domain/addressing.js';
import type { ClusterSession } from '../ssh/session.types.js';

export interface VmLocation {
  node: string;
  /** The serial console's unix socket on that node. */
  socket: string;
}

/**
 * Where a VM's serial console is now. The DB's mapping says where the VM should run; the
 * socket on the node says where it does run, and only that one can be attached, so every
 * node is asked in one parallel round (a few ms on a warm pool). When a live migration
 * leaves the socket on two nodes for a moment, the node the DB names wins.
 */
export async function locateVm(
  session: Pick<ClusterSession, 'onNodes'>,
  vc: string,
  vm: string,
  preferredNode?: string,
): Promise<VmLocation> {
  const { serial } = vmRuntimePaths(vc, vm);
  const results = await session.onNodes('all', sh('test', '-S', serial), { timeoutMs: 10_000 });
  const found = results.filter((r) => !r.error && r.code === 0).map((r) => r.node);
  const unreachable = results.filter((r) => r.error).map((r) => r.node);
  if (found.length > 0) {
    const node = preferredNode && found.includes(preferredNode) ? preferredNode : found[0];
    return { node, socket: serial };
  }
  const details = { vc, vm, socket: serial, unreachable };
  if (preferredNode && unreachable.includes(preferredNode)) {
    throw new VlxError('unreachable', `VM ${vc}/${vm} runs on node ${preferredNode}, which does not answer`, 'see `vlx nodes`; the VM is reachable again when its node is', details);
  }
  const also = unreachable.length ? ` (not answering: ${unreachable.join(', ')})` : '';
  throw new VlxError('conflict', `VM ${vc}/${vm} is not running: no node has its serial console${also}`, `start it with \`vlx vc start ${vc}\``, details);
}
