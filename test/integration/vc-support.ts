import { DEFAULT_VC_POOL } from '../../main/domain/subnet.js';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ensureLab, labSsh } from './support/lab.js';
import { clearTestVcs, cleanUpTestVcs } from './support/cleanup.js';
import { getCluster } from '../../main/config/clusters.js';
import { openCluster } from '../../main/ssh/session.js';
import { buildTiny } from '../../main/images/tiny.js';
import { publishImage, readImageMeta } from '../../main/images/library.js';
import { VcService } from '../../main/service/vcCore.js';
import type { TaskSummary } from '../../main/tasks/types.js';
import { SerialConsole } from '../../main/vm/serial.js';
import { vmRuntimePaths } from '../../main/domain/addressing.js';

export { testVc, TEST_VC_PREFIX, cleanUpTestVcs } from './support/cleanup.js';

/**
 * What every VC test needs: the 4-node lab, the tiny image on shared storage, and the lab's
 * cluster database on its node, as users have it (the app home of the run, VLX_HOME, has the
 * lab registered with it; the CLI processes the tests start use the same). Test VCs of
 * earlier files or crashed runs are cleared first (support/cleanup.ts says why all tests
 * share this one database).
 */
export async function ensureVcLab(): Promise<void> {
  await ensureLab();
  const cluster = getCluster('lab');
  if (!cluster.db) throw new Error('the lab has no cluster database registered in this app home after `lab up`');
  const s = vcService();
  try {
    await clearTestVcs(s);
  } finally {
    await s.close();
  }
  // The tiny image this checkout builds, so its guest is the one under test: published when
  // missing or different, once the test VCs are gone (a template in use is never replaced;
  // then the lab's stays, and both work with this code).
  const session = openCluster(cluster);
  try {
    const conn = await session.any();
    const have = await readImageMeta(conn, 'tiny').catch(() => undefined);
    const built = await buildTiny();
    if (have?.inputs !== built.meta.inputs) {
      await publishImage(conn, { meta: built.meta, files: built.files }).catch((e: unknown) => {
        if (!have) throw e;
        process.stderr.write(`keeping the lab's tiny image: ${(e as Error).message}\n`);
      });
    }
  } finally {
    await session.close();
  }
}

/** For files not yet moved to cleanUpTestVcs: the same check. */
export async function stopVcLab(): Promise<void> {
  await cleanUpTestVcs();
}

export function vcService(): VcService {
  return VcService.open('lab');
}

export function expectOk(t: TaskSummary): TaskSummary {
  if (t.state !== 'succeeded') throw new Error(`task ${t.kind} ${t.target} ${t.state}: ${t.error?.step}: ${t.error?.message}`);
  return t;
}

export const NODES = ['n1', 'n2', 'n3', 'n4'] as const;
export const nodeAddr = (n: string): string => `10.77.0.${n.slice(1)}`;

export async function onNode(node: string, command: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return labSsh(nodeAddr(node), command);
}

const run = promisify(execFile);

/** The built CLI, as a person runs it. */
export async function vlx(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run('bin/vlx', ['--cluster', 'lab', ...args], { env: { ...process.env, ...env }, maxBuffer: 16 << 20 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : 1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

/** Everything a VC may leave on the nodes: QEMU processes, taps, routes, nft rules, files. */
export async function leftovers(vc: string, subnetPrefix: string): Promise<string[]> {
  const found: string[] = [];
  for (const n of NODES) {
    const r = await onNode(n, [
      `ls /run/virtualinux/vm/${vc} 2>/dev/null | sed 's/^/run: /'`,
      `ip -o link show type tun 2>/dev/null | grep -o 'vt[0-9a-f]*' | sed 's/^/tap: /'`,
      `ip route show proto 77 | grep -F '${subnetPrefix}' | sed 's/^/route: /'`,
      // The gateway's NAT names the whole VC pool (10.200.0.0/16): that rule is the cluster's, not this VC's.
      `nft list ruleset 2>/dev/null | grep -F '${subnetPrefix}' | grep -vF '${DEFAULT_VC_POOL}' | sed 's/^/nft: /'`,
      `ls /srv/virtualinux/vc/${vc} 2>/dev/null | sed 's/^/file: /'`,
      `grep -F '"/vc/${vc}"' /etc/virtualinux/nfs/exports.conf 2>/dev/null | sed 's/^/nfs export: /'`,
      `for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline 2>/dev/null | grep -q -- '/vm/''${vc}/' && echo "qemu: $p"; done`,
      'true',
    ].join('; '));
    for (const l of r.stdout.split('\n').filter(Boolean)) found.push(`${n}: ${l}`);
  }
  return found;
}

/** Run a shell command in a VM's guest through its serial console (over SSH stream-local forwarding). */
export async function guestRun(s: VcService, vc: string, vm: string, command: string, timeoutMs = 30_000): Promise<{ code: number; output: string }> {
  const st = await s.vcStatus(vc);
  const row = st.vms.find((v) => v.name === vm);
  if (!row?.node) throw new Error(`${vc}/${vm} has no node`);
  const conn = await s.env.session.node(row.node);
  const serial = new SerialConsole(await conn.openUnixSocket(vmRuntimePaths(vc, vm).serial), `${vc}/${vm}`);
  try {
    serial.write('\n');
    return await serial.run(command, timeoutMs);
  } finally {
    serial.close();
  }
}
