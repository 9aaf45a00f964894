import { z } from 'zod';
import { BRIDGE, HOST_ADDRESS, PREFIX_LEN, VETH_PREFIX, type LabNodeLayout } from './layout.js';
import { mustRun, runLocal } from './local.js';

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

export async function setHostLink(n: LabNodeLayout, state: 'up' | 'down'): Promise<void> {
  await mustRun('ip', ['link', 'set', n.hostVeth, state]);
}

export async function deleteLink(name: string): Promise<void> {
  await runLocal('ip', ['link', 'del', name]);
}

export async function deleteNetns(name: string): Promise<void> {
  await runLocal('ip', ['netns', 'del', name]);
}
