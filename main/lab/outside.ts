import { spawn } from 'node:child_process';
import { VlxError } from '../errors.js';
import { BRIDGE } from './layout.js';
import { mustRun, runLocal, sleep } from './local.js';
import { killNode, nodePids } from './node.js';

/**
 * The lab's stand-in for the public network: a namespace on the lab bridge with only a public
 * test address (TEST-NET-3) and no route anywhere else, so it is reachable the way a public
 * network is: by the node that holds the gateway's public address, on its link. A TCP
 * listener there answers every connection with the address it came from, so a test sees
 * what the outside sees (the NAT's public address, never a VM's).
 */
export const OUTSIDE_NETNS = 'vlx-out';
export const OUTSIDE_HOST_VETH = 'vlxout0';
/** The public router and the outside's listener. */
export const OUTSIDE_ADDRESS = '203.0.113.1';
export const OUTSIDE_PREFIX = 24;
export const OUTSIDE_NETMASK = '255.255.255.0';
/** The gateway's public address, held by the VIP holder. */
export const PUBLIC_ADDRESS = '203.0.113.2';
export const OUTSIDE_PORT = 18080;

async function wired(): Promise<boolean> {
  const r = await runLocal('ip', ['-n', OUTSIDE_NETNS, '-j', 'addr', 'show', 'dev', 'eth0']);
  if (r.code !== 0 || !r.stdout.includes(`"${OUTSIDE_ADDRESS}"`)) return false;
  const link = await runLocal('ip', ['-j', 'link', 'show', 'dev', OUTSIDE_HOST_VETH]);
  return link.code === 0 && link.stdout.includes(`"master":"${BRIDGE}"`) && link.stdout.includes('"UP"');
}

async function startListener(): Promise<void> {
  // socat forks a child per connection; SOCAT_PEERADDR is the source address the outside saw.
  const child = spawn('ip', [
    'netns', 'exec', OUTSIDE_NETNS, 'socat', `TCP-LISTEN:${OUTSIDE_PORT},bind=${OUTSIDE_ADDRESS},reuseaddr,fork`, 'SYSTEM:echo $SOCAT_PEERADDR',
  ], { detached: true, stdio: 'ignore' });
  child.on('error', () => {
    // seen below: nothing listens
  });
  child.unref();
  for (let i = 0; i < 50; i++) {
    const r = await runLocal('ip', ['netns', 'exec', OUTSIDE_NETNS, 'ss', '-ltnH', `sport = :${OUTSIDE_PORT}`]);
    if (r.stdout.trim()) return;
    await sleep(20);
  }
  throw new VlxError('internal', `the outside's listener on ${OUTSIDE_ADDRESS}:${OUTSIDE_PORT} did not start`, 'check that socat runs: `ip netns exec vlx-out socat -V`');
}

/** Make (or keep) the outside namespace and its listener. Idempotent. */
export async function ensureOutside(): Promise<string> {
  if (!(await wired())) {
    await removeOutside();
    await mustRun('ip', ['-batch', '-'], [
      `netns add ${OUTSIDE_NETNS}`,
      `link add ${OUTSIDE_HOST_VETH} type veth peer name eth0 netns ${OUTSIDE_NETNS}`,
      `link set ${OUTSIDE_HOST_VETH} master ${BRIDGE} up`,
      '',
    ].join('\n'));
    await mustRun('ip', ['-n', OUTSIDE_NETNS, '-batch', '-'], [
      'link set lo up',
      'link set eth0 up',
      `addr add ${OUTSIDE_ADDRESS}/${OUTSIDE_PREFIX} dev eth0`,
      '',
    ].join('\n'));
  }
  if ((await nodePids(OUTSIDE_NETNS)).length === 0) await startListener();
  return `the outside: namespace ${OUTSIDE_NETNS}, ${OUTSIDE_ADDRESS}/${OUTSIDE_PREFIX} on ${BRIDGE}, listener on port ${OUTSIDE_PORT}`;
}

/** Its listener, namespace and link go; nothing is left when there was nothing. */
export async function removeOutside(): Promise<string[]> {
  const ns = await runLocal('ip', ['netns', 'pids', OUTSIDE_NETNS]);
  const existed = ns.code === 0;
  if (existed) {
    await killNode(OUTSIDE_NETNS);
    await runLocal('ip', ['netns', 'del', OUTSIDE_NETNS]);
  }
  // Deleting the namespace takes the veth pair; a half-made one may be left on the host.
  await runLocal('ip', ['link', 'del', OUTSIDE_HOST_VETH]);
  return existed ? [OUTSIDE_NETNS] : [];
}
