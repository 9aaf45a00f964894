import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { ensureLab, labSsh } from './support/lab.js';
import { getCluster, putCluster } from '../../main/config/clusters.js';
import { openCluster } from '../../main/ssh/session.js';
import { openDb } from '../../main/db/client.js';
import { migrate } from '../../main/db/migrate.js';
import { startLocalPg, type LocalPg } from '../support/localPg.js';
import { appHome } from '../../main/config/paths.js';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { buildTiny } from '../../main/images/tiny.js';
import { publishImage, readImageMeta } from '../../main/images/library.js';
import { VcService } from '../../main/service/vcCore.js';
import type { TaskSummary } from '../../main/tasks/types.js';
import { SerialConsole } from '../../main/vm/serial.js';
import { vmRuntimePaths } from '../../main/domain/addressing.js';

/**
 * What every VC test needs: the 4-node lab, the tiny image on shared storage, and a cluster
 * database of its own: a throwaway PostgreSQL on this machine (the app only reaches the DB
 * from the workstation), so other suites re-deploying or crashing the lab's DB node do not
 * pull it away mid-test. A private app home registers the lab with that DB, for this
 * process and for the CLI processes the tests start.
 */
let pg: LocalPg | undefined;
let home: string | undefined;

export async function ensureVcLab(): Promise<void> {
  await ensureLab();
  const cluster = getCluster('lab');
  const session = openCluster(cluster);
  try {
    const conn = await session.any();
    if (!(await readImageMeta(conn, 'tiny').catch(() => undefined))) {
      const built = await buildTiny();
      await publishImage(conn, { meta: built.meta, files: built.files });
    }
  } finally {
    await session.close();
  }
  if (!pg) {
    await clearTestVcs(TEST_VCS);
    pg = await startLocalPg();
    const db = openDb(pg.endpoint);
    try {
      await migrate(db);
    } finally {
      await db.close();
    }
  }
  if (!home) {
    const defaultHome = appHome();
    home = mkdtempSync('/tmp/vlx-vc-home-');
    copyFileSync(join(defaultHome, 'known_hosts'), join(home, 'known_hosts'));
    process.env.VLX_HOME = home;
    putCluster({ ...cluster, db: pg.endpoint }, true);
  }
}

/** Every VC name the vc-* suites use. */
export const TEST_VCS = ['life', 'bad-x', 'keep', 'killed', 'ins-a', 'ins-b', 'pl-block-strict', 'pl-cyclic-strict', 'pl-block-free', 'pl-cyclic-free', 'pl-short', 'debvc'];

/**
 * A run against an earlier database (a crashed test run) may have left QEMUs and volumes
 * of these names; a fresh database knows nothing of them, so they go first.
 */
async function clearTestVcs(names: string[]): Promise<void> {
  const script = names.map((n) => [
    `for f in /run/virtualinux/vm/${n}/*.pid; do [ -e "$f" ] && kill -9 "$(cat "$f")" 2>/dev/null; done`,
    `rm -rf /run/virtualinux/vm/${n}`,
  ].join('; ')).join('; ');
  await Promise.all(NODES.map((node) => onNode(node, `${script}; true`)));
  await onNode('n1', `${names.map((n) => `rm -rf /srv/virtualinux/vc/${n}`).join('; ')}; true`);
}

export async function stopVcLab(): Promise<void> {
  await pg?.stop();
  pg = undefined;
  if (home) rmSync(home, { recursive: true, force: true });
  home = undefined;
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
      `nft list ruleset 2>/dev/null | grep -F '${subnetPrefix}' | sed 's/^/nft: /'`,
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
