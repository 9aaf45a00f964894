import { z } from 'zod';
import { BRIDGE, HOST_ADDRESS, PREFIX_LEN, VETH_PREFIX, type LabNodeLayout } from './layout.js';
import { mustRun, runLocal } from './local.js';
import { nodePids } from './node.js';
import { NAT_TABLE } from '../node-services/render.js';

/** The outside namespace is part of the lab's network. */
export { ensureOutside, removeOutside } from './outside.js';

/** The host's view of the lab's links, from `ip -j link show`. */
const IpLink = z.object({
  ifname: z.string(),
  flags: z.array(z.string()).default([]),
  operstate: z.string().optional(),
  master: z.string().optional(),
});
export type HostLink = z.infer<typeof IpLink>;

export async function hostLinks(): Promise<Map<string, HostLink>> {
  const out = await mustRun('ip', ['-j', 'link', 'show']);
  const links = z.array(IpLink).parse(JSON.parse(out || '[]'));
  return new Map(links.filter((l) => l.ifname === BRIDGE || l.ifname.startsWith(VETH_PREFIX)).map((l) => [l.ifname, l]));
}

export async function listNetns(): Promise<string[]> {
  const out = await mustRun('ip', ['netns', 'list']);
  // Lines look like "vlx-n1 (id: 0)" or just "vlx-n1".
  return out.split('\n').map((l) => l.trim().split(/\s+/)[0]).filter((n): n is string => Boolean(n));
}

export async function ensureBridge(links: Map<string, HostLink>): Promise<void> {
  const bridge = links.get(BRIDGE);
  if (!bridge) {
    // STP off (the default) forwards on a new port at once: a node is reachable as soon as its sshd is.
    await mustRun('ip', ['-batch', '-'], [
      `link add ${BRIDGE} type bridge`,
      `addr add ${HOST_ADDRESS}/${PREFIX_LEN} dev ${BRIDGE}`,
      `link set ${BRIDGE} up`,
      '',
    ].join('\n'));
    return;
  }
  const addrs = await mustRun('ip', ['-j', 'addr', 'show', 'dev', BRIDGE]);
  if (!addrs.includes(`"${HOST_ADDRESS}"`)) await mustRun('ip', ['addr', 'add', `${HOST_ADDRESS}/${PREFIX_LEN}`, 'dev', BRIDGE]);
  if (!bridge.flags.includes('UP')) await mustRun('ip', ['link', 'set', BRIDGE, 'up']);
}

/**
 * Nodes' networks from scratch: namespace, veth pair (eth0 inside, fixed MAC), address,
 * default route. One `ip -batch` on the host and one per namespace: on a loaded 2-core
 * machine each process start costs tens of milliseconds.
 */
export async function wireNodes(nodes: LabNodeLayout[]): Promise<void> {
  if (nodes.length === 0) return;
  await mustRun('ip', ['-batch', '-'], nodes.flatMap((n) => [
    `netns add ${n.netns}`,
    `link add ${n.hostVeth} type veth peer name eth0 address ${n.mac} netns ${n.netns}`,
    `link set ${n.hostVeth} master ${BRIDGE} up`,
  ]).join('\n') + '\n');
  await Promise.all(nodes.map((n) => mustRun('ip', ['-n', n.netns, '-batch', '-'], [
    'link set lo up',
    'link set eth0 up',
    `addr add ${n.address}/${PREFIX_LEN} dev eth0`,
    `route add default via ${HOST_ADDRESS}`,
    '',
  ].join('\n'))));
}

/** Is the node's wiring complete (so `up` can keep it) or must it be rebuilt? */
export async function nodeWired(n: LabNodeLayout, links: Map<string, HostLink>, netns: string[]): Promise<boolean> {
  if (!netns.includes(n.netns) || links.get(n.hostVeth)?.master !== BRIDGE) return false;
  const r = await runLocal('ip', ['-n', n.netns, '-j', 'addr', 'show', 'dev', 'eth0']);
  return r.code === 0 && r.stdout.includes(`"${n.address}"`);
}

/**
 * Power back on: the link comes up. A node that was powered off (nothing runs in it) first
 * loses what a reboot clears and a lab crash leaves in its namespace: the addresses keepalived
 * and the gateway's notify script added (the VIP, the public address, the storage address),
 * the default route the notify script set, and the gateway's nftables table (NAT and public
 * filter). Otherwise a crashed VIP holder comes back still holding them: a second holder
 * until the next services deploy. Returns the addresses it removed.
 */
export async function powerOnLink(n: LabNodeLayout): Promise<string[]> {
  const removed: string[] = [];
  if ((await nodePids(n.netns)).length === 0) {
    const shown = JSON.parse((await mustRun('ip', ['-n', n.netns, '-j', '-4', 'addr', 'show', 'dev', 'eth0'])) || '[]') as
      { addr_info?: { local?: string; prefixlen?: number }[] }[];
    for (const a of shown.flatMap((l) => l.addr_info ?? [])) {
      if (a.local && a.local !== n.address) removed.push(`${a.local}/${a.prefixlen ?? 32}`);
    }
    await mustRun('ip', ['-n', n.netns, '-batch', '-'], [
      ...removed.map((a) => `addr del ${a} dev eth0`),
      `route replace default via ${HOST_ADDRESS} dev eth0`,
      '',
    ].join('\n'));
    // Absent unless the node held the VIP: nothing to delete is fine.
    await runLocal('ip', ['netns', 'exec', n.netns, 'nft', 'delete', 'table', 'ip', NAT_TABLE]);
  }
  await setHostLink(n, 'up');
  return removed;
}

export async function setHostLink(n: LabNodeLayout, state: 'up' | 'down'): Promise<void> {
  await mustRun('ip', ['link', 'set', n.hostVeth, state]);
}

export async function deleteLink(name: string): Promise<void> {
  await runLocal('ip', ['link', 'del', name]);
}

export async function deleteNetns(name: string): Promise<void> {
  await runLocal('ip', ['netns', 'del', name]);
}
