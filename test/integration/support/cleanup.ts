import { allVms, listVcRows } from '../../../main/cluster/repo.js';
import { tapName } from '../../../main/domain/addressing.js';
import { cidrContains, ipToInt, parseCidr } from '../../../main/domain/subnet.js';
import { parseRoutes, ROUTE_LIST_ARGV } from '../../../main/network/routes.js';
import { syncNetwork } from '../../../main/network/sync.js';
import { VcService } from '../../../main/service/vcCore.js';
import { sh } from '../../../main/util/quote.js';
import { CLUSTER_NETWORK } from '../../../main/lab/layout.js';
import { PUBLIC_ADDRESS } from '../../../main/lab/outside.js';
import { labSsh } from './lab.js';

/**
 * Every VC a test makes is named with this prefix (`testVc('life')` → `t-life`), so one
 * helper finds them all, whatever file made them and however that file ended.
 *
 * Decision on "two databases driving one lab": the tests share the lab's one cluster
 * database, as users do (each file its own VC names). A network sync renders the whole state
 * of its database onto every node, so a second database would erase the first one's taps,
 * routes and firewall rules; with one database, no sync erases another file's network state,
 * and anything on a node that the database does not know is a leak.
 */
export const TEST_VC_PREFIX = 't-';

export function testVc(name: string): string {
  return `${TEST_VC_PREFIX}${name}`;
}

const NODES = ['n1', 'n2', 'n3', 'n4'] as const;
const addr = (n: string): string => `10.77.0.${n.slice(1)}`;
const RUN_VM = '/run/virtualinux/vm';
const VC_DIR = '/srv/virtualinux/vc';

/** What the cluster database knows: the only things allowed to exist on the nodes. */
interface Known {
  vcs: Set<string>;
  taps: Set<string>;
  ips: Set<string>;
  subnets: ReturnType<typeof parseCidr>[];
}

async function known(s: VcService): Promise<Known> {
  const [vcs, vms] = await Promise.all([listVcRows(s.env.db), allVms(s.env.db)]);
  return {
    vcs: new Set(vcs.map((v) => v.name)),
    taps: new Set(vms.map((v) => tapName(v.ip))),
    ips: new Set(vms.map((v) => v.ip)),
    subnets: vcs.map((v) => parseCidr(v.subnet, v.name)),
  };
}

/** One finding: where, what, and the command that removes it (for strays). */
interface Stray {
  where: string;
  what: string;
  remove?: string;
}

async function mustRun(where: string, command: string): Promise<string> {
  const r = where === 'workstation' ? await localSh(command) : await labSsh(addr(where), command);
  if (r.code !== 0) throw new Error(`cleanup check on ${where} failed (exit ${r.code}): ${r.stderr.trim()}`);
  return r.stdout;
}

async function localSh(command: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const { execFile } = await import('node:child_process');
  return new Promise((resolve) => execFile('sh', ['-c', command], (err, stdout, stderr) => {
    resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
  }));
}

const PROBE = [
  `echo --run--; ls ${RUN_VM} 2>/dev/null`,
  "echo --taps--; ip -o link show type tun 2>/dev/null | grep -o 'vt[0-9a-f]\\{8\\}'",
  `echo --routes--; ${sh(...ROUTE_LIST_ARGV)}`,
  'echo --nft--; nft list table inet vlx 2>/dev/null',
  "echo --exports--; grep -o '\"/vc/[^\"]*\"' /etc/virtualinux/nfs/exports.conf 2>/dev/null",
  'true',
].join('; ');

/** The machine's process table and the shared storage are one for all nodes: looked at once. */
const SHARED_PROBE = [
  `echo --vcdirs--; ls ${VC_DIR} 2>/dev/null`,
  // qemu''-system: this very shell's command line holds the pattern, but never the word.
  `echo --qemu--; for p in /proc/[0-9]*; do c=$(tr '\\0' ' ' < $p/cmdline 2>/dev/null); case "$c" in *qemu''-system*${RUN_VM}/*) echo "\${p#/proc/} $c";; esac; done`,
  'true',
].join('; ');

function sections(out: string): Record<string, string[]> {
  const got: Record<string, string[]> = {};
  let cur = '';
  for (const line of out.split('\n')) {
    const m = /^--(\w+)--$/.exec(line);
    if (m) cur = m[1]!;
    else if (line.trim()) (got[cur] ??= []).push(line);
  }
  return got;
}

/** Everything on the lab that belongs to no VC of the cluster database. */
async function strays(k: Known): Promise<Stray[]> {
  const found: Stray[] = [];
  // The nodes' own rules (the DNS and NTP the gateway offers every VC, the guard of the gateway's public address) name
  // the cluster network, the node and the public address: not a VC's.
  const inKnownSubnet = (ip: string) => ip === PUBLIC_ADDRESS || cidrContains(parseCidr(CLUSTER_NETWORK, 'cluster network'), ipToInt(ip)) || k.subnets.some((n) => cidrContains(n, ipToInt(ip)));
  const perNode = await Promise.all(NODES.map(async (n) => [n, sections(await mustRun(n, PROBE))] as const));
  for (const [n, sec] of perNode) {
    for (const vc of sec.run ?? []) if (!k.vcs.has(vc)) found.push({ where: n, what: `runtime dir ${RUN_VM}/${vc}`, remove: `rm -rf ${sh(`${RUN_VM}/${vc}`)}` });
    for (const tap of sec.taps ?? []) if (!k.taps.has(tap)) found.push({ where: n, what: `tap ${tap}`, remove: `ip link del ${sh(tap)}` });
    for (const r of parseRoutes((sec.routes ?? []).join('\n') || '[]')) {
      if (!k.ips.has(r.dst.replace(/\/32$/, ''))) found.push({ where: n, what: `route ${r.dst} ${'dev' in r ? `dev ${r.dev}` : `via ${r.via}`}` });
    }
    for (const line of sec.nft ?? []) {
      if ((line.match(/\d+\.\d+\.\d+\.\d+/g) ?? []).some((ip) => !inKnownSubnet(ip))) found.push({ where: n, what: `nft rule "${line.trim()}"` });
    }
    for (const e of sec.exports ?? []) {
      const vc = e.replace(/^"\/vc\/|"$/g, '');
      if (!k.vcs.has(vc)) found.push({ where: n, what: `NFS export ${e}` });
    }
  }
  const host = parseRoutes((await mustRun('workstation', sh(...ROUTE_LIST_ARGV))) || '[]');
  for (const r of host) if (!k.ips.has(r.dst.replace(/\/32$/, ''))) found.push({ where: 'workstation', what: `route ${r.dst}` });
  const shared = sections(await mustRun('n1', SHARED_PROBE));
  for (const vc of shared.vcdirs ?? []) {
    if (k.vcs.has(vc)) continue;
    // Files of a VC that is not a test's may be someone's data: named, never removed or failed on.
    if (vc.startsWith(TEST_VC_PREFIX)) found.push({ where: 'shared storage', what: `${VC_DIR}/${vc}`, remove: `rm -rf ${sh(`${VC_DIR}/${vc}`)}` });
    else console.warn(`cleanup: ${VC_DIR}/${vc} belongs to no VC of the cluster database (left alone)`);
  }
  for (const line of shared.qemu ?? []) {
    const vc = new RegExp(`${RUN_VM}/([^/ ]+)/`).exec(line)?.[1] ?? '';
    const pid = line.split(' ')[0]!;
    if (!k.vcs.has(vc)) found.push({ where: 'machine', what: `QEMU pid ${pid} of VC ${vc}`, remove: `kill -9 ${pid}` });
  }
  return found;
}

/**
 * Remove what can be removed of the strays: QEMUs first, then their runtime dirs and taps,
 * then a network sync (routes, nft and exports follow the database).
 */
async function removeStrays(s: VcService, found: Stray[]): Promise<void> {
  const order = (x: Stray) => (x.what.startsWith('QEMU') ? 0 : 1);
  for (const x of [...found].sort((a, b) => order(a) - order(b))) {
    if (!x.remove) continue;
    await mustRun(x.where === 'machine' || x.where === 'shared storage' ? 'n1' : x.where, `${x.remove} 2>/dev/null; true`);
  }
  await syncNetwork(s.env);
}

async function destroyTestVcs(s: VcService): Promise<string[]> {
  const failures: string[] = [];
  for (const vc of await listVcRows(s.env.db)) {
    if (!vc.name.startsWith(TEST_VC_PREFIX)) continue;
    const t = await s.destroyVc(vc.name).catch((e: unknown) => ({ state: 'threw', error: { step: '', message: String(e) } }));
    if (t.state !== 'succeeded') failures.push(`destroy of VC ${vc.name} ${t.state}: ${t.error?.step} ${t.error?.message}`);
  }
  return failures;
}

/**
 * Before a file: every test VC goes, and whatever an earlier, crashed run left on the nodes
 * that the database does not know (QEMUs, runtime dirs, taps, routes, firewall rules).
 */
export async function clearTestVcs(s: VcService): Promise<void> {
  const failed = await destroyTestVcs(s);
  if (failed.length > 0) throw new Error(`cleanup before the tests failed:\n${failed.join('\n')}`);
  const found = await strays(await known(s));
  if (found.length > 0) await removeStrays(s, found);
}

/**
 * After a file: destroy every test VC, then FAIL if anything is left: a test VC in the
 * database, or a QEMU, runtime dir, tap, route, firewall rule, export or VC directory that
 * belongs to no VC of the database. What can be removed is removed first, so the next file
 * starts clean, but the run still fails.
 */
export async function cleanUpTestVcs(given?: VcService): Promise<void> {
  const s = given ?? VcService.open('lab');
  try {
    const problems = await destroyTestVcs(s);
    const left = (await listVcRows(s.env.db)).filter((v) => v.name.startsWith(TEST_VC_PREFIX));
    for (const v of left) problems.push(`VC ${v.name} is still in the database (${v.state})`);
    const found = await strays(await known(s));
    problems.push(...found.map((x) => `${x.where}: ${x.what}`));
    if (found.length > 0) await removeStrays(s, found);
    if (problems.length > 0) throw new Error(`the tests left this behind:\n  ${problems.join('\n  ')}`);
  } finally {
    if (!given) await s.close();
  }
}
