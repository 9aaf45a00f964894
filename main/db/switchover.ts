import { VlxError } from '../errors.js';
import type { DbEndpoint } from '../config/clusters.js';
import type { ClusterSession } from '../ssh/session.types.js';
import { sh } from '../util/quote.js';
import { PATRONI_CONF, type HaMember } from './haConfig.js';
import { memberStatuses } from './haStatus.js';
import { findPrimary } from './primary.js';

/** Patroni's answer when the DCS has not recorded the synchronous standby the member reports yet. */
export const SYNC_KEY_LAG = /candidate name does not match with sync_standby/i;
const SYNC_KEY_RETRIES = 5;

export function endpointMembers(ep: DbEndpoint): HaMember[] {
  return (ep.members ?? [{ node: ep.node, host: ep.host }]).map((m) => ({ node: m.node, address: m.host }));
}

/**
 * Move the primary on purpose: Patroni demotes the old one and promotes `to` (a streaming
 * standby), asked through patronictl on a member over SSH (its REST password stays on the
 * nodes). Returns once this workstation finds `to` writable: that is the time a user sees.
 */
export async function switchover(session: ClusterSession, cluster: string, ep: DbEndpoint, to: string): Promise<{ from: string; to: string; ms: number }> {
  const members = endpointMembers(ep);
  if (!members.some((m) => m.node === to)) {
    throw new VlxError('invalid-input', `to: ${to} is not a database member`, `members: ${members.map((m) => m.node).join(', ')}`);
  }
  const states = await memberStatuses(members, ep.haTls);
  const from = states.find((m) => m.role === 'primary');
  if (!from) throw new VlxError('conflict', `no member is primary now (${states.map((m) => `${m.node} ${m.role}`).join(', ')}): nothing to switch over`, 'see `vlx db status`');
  if (from.node === to) throw new VlxError('conflict', `${to} is the primary already`);
  const target = states.find((m) => m.node === to)!;
  if (target.role !== 'sync_standby' && target.role !== 'standby') {
    throw new VlxError('conflict', `${to} cannot take over: it is ${target.role} (${target.state})`, 'wait until it streams (see `vlx db status`)');
  }
  // Synchronous mode: only the standby that has every acknowledged commit may take over.
  if (target.role !== 'sync_standby') {
    const sync = states.find((m) => m.role === 'sync_standby');
    throw new VlxError('conflict', `${to} is an asynchronous standby: Patroni hands the primary only to the synchronous standby${sync ? ` (now ${sync.node})` : ''}, which has every acknowledged write`,
      sync ? `run \`vlx db switchover --to ${sync.node}\`, or again once ${to} is the synchronous standby` : 'wait until a standby is synchronous (see `vlx db status`)');
  }
  const started = Date.now();
  const conn = await session.node(to);
  const ask = () => conn.exec(sh('patronictl', '-c', PATRONI_CONF, 'switchover', '--leader', from.node, '--candidate', to, '--force'), { timeoutMs: 60_000 });
  let r = await ask();
  // A member reports itself sync_standby as soon as PostgreSQL streams to it synchronously;
  // the leader records it in the DCS (which the switchover checks) on its next loop. Asked in
  // between, Patroni refuses with 412: asked again once that loop has run.
  for (let attempt = 1; attempt <= SYNC_KEY_RETRIES && SYNC_KEY_LAG.test(r.stdout + r.stderr); attempt++) {
    await new Promise((ok) => setTimeout(ok, 1000));
    r = await ask();
  }
  if (r.code !== 0 || /failed|error/i.test(r.stdout)) {
    throw new VlxError('remote-failed', `switchover ${from.node} → ${to} failed: ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' ')}`, 'see `vlx db status`');
  }
  const found = await findPrimary({ ...ep, members: ep.members ?? [{ node: ep.node, host: ep.host }] }, { cluster, waitMs: 30_000 });
  if (found.node !== to) throw new VlxError('conflict', `after the switchover the primary is ${found.node}, not ${to}`);
  return { from: from.node, to, ms: Date.now() - started };
}
