import { VlxError } from '../errors.js';
import { sh } from '../util/quote.js';
import type { Step, StepContext, WorkflowDef } from '../tasks/types.js';
import type { ClusterSession } from '../ssh/session.types.js';
import type { Db } from '../db/client.js';
import type { NodeConn } from '../ssh/types.js';
import { storagePaths, type StoragePaths } from '../domain/storagePaths.js';
import { baseImageError, formatFieldError, type InstallPlan } from '../domain/installConfig.js';
import { Manifest } from '../domain/manifest.js';
import { tftpLayout } from '../domain/bootFiles.js';
import { readManifestVia } from '../cluster/manifest.js';
import { describeJoin, joinInstalledNodes, readInstalledNodes } from '../cluster/installedNodes.js';
import { deployServices } from '../node-services/deploy.js';
import {
  parseFacts, parseImagesFact, parseKeys, renderCopyIfChangedScript, renderKeysScript, renderPreflightScript, renderStorageScript,
  renderWriteFilesScript, type FileToWrite,
} from '../install/scripts.js';
import { bootEntryFiles, configFiles, tftpRootOf } from '../install/bootFiles.js';

/**
 * The install of a disk-less cluster as a task: preflight, storage, per-node configuration,
 * boot configuration, manifest, summary. Each step starts from the plan (a task parameter)
 * and what is on shared storage, and does only what is missing, so a re-run changes nothing
 * and adding node N+1 is the same run with one more entry.
 */
export interface InstallEnv {
  session: ClusterSession;
  /** Absent before the cluster has a database: the manifest is then kept on shared storage only. */
  db?: Db;
}

export const INSTALL_STEPS = ['preflight', 'storage', 'configure', 'boot', 'manifest', 'summary'] as const;
const step = (name: string, run: (ctx: StepContext) => Promise<void>): Step => ({ name, run });

export const pathsOf = (plan: InstallPlan): StoragePaths => storagePaths(plan.config.sharedRoot);

export async function runOn(conn: NodeConn, script: string, what: string, timeoutMs = 600_000): Promise<string> {
  const r = await conn.exec('sh -e', { stdin: script, timeoutMs });
  if (r.code !== 0) throw new VlxError('remote-failed', `${what} on ${conn.name}: ${r.stderr.trim().split('\n').slice(-3).join(' / ') || `exit ${r.code}`}`);
  return r.stdout;
}

export async function writeFiles(conn: NodeConn, files: FileToWrite[], what: string): Promise<{ written: number; kept: number }> {
  const f = parseFacts(await runOn(conn, renderWriteFilesScript(files), what));
  return { written: Number(f.written ?? 0), kept: Number(f.kept ?? 0) };
}

/** Every node's config archive, from the keys made once per node (made now if missing). */
export async function writeNodeConfigs(conn: NodeConn, plan: InstallPlan, ctx: StepContext, only?: number[]): Promise<void> {
  const ordinals = plan.nodes.map((n) => n.ordinal).filter((n) => !only || only.includes(n));
  const keys = parseKeys(await runOn(conn, renderKeysScript(pathsOf(plan), plan.config.container, ordinals), 'host keys'));
  const r = await writeFiles(conn, configFiles(plan, keys, only), 'node configuration');
  ctx.log(`node configuration: ${r.written} archive(s) written, ${r.kept} unchanged`);
}

export async function writeBootFiles(conn: NodeConn, plan: InstallPlan, ctx: StepContext): Promise<void> {
  const paths = pathsOf(plan);
  const img = paths.image(plan.config.baseImage);
  const t = tftpLayout(plan.config.container);
  const root = tftpRootOf(plan.config.sharedRoot);
  const k = parseFacts(await runOn(conn, renderCopyIfChangedScript([
    { from: img.kernel, to: `${root}/${t.kernel}` },
    { from: img.initrd, to: `${root}/${t.initrd}` },
  ]), 'kernel and initrd'));
  ctx.log(`kernel and initrd: ${k.written} copied, ${k.kept} unchanged`);
  // The image's own kernel arguments (its metadata), so the node boots as the image builder meant.
  const meta = await conn.exec(sh('cat', img.meta), { timeoutMs: 10_000 });
  let cmdline: string | undefined;
  try { cmdline = meta.code === 0 ? (JSON.parse(meta.stdout) as { cmdline?: string }).cmdline : undefined; } catch { cmdline = undefined; }
  const r = await writeFiles(conn, bootEntryFiles(plan, typeof cmdline === 'string' ? cmdline : undefined), 'boot entries');
  ctx.log(`boot entries: ${r.written} written, ${r.kept} unchanged (${root}/${t.bootScript} and one per MAC under nodes/)`);
}

/** The manifest with this installation in it; written (shared storage, then the DB) only when it changed. */
export function withInstall(m: Manifest, plan: InstallPlan): Manifest {
  // The root server (node-services/storage) listens on the storage address the boot lines name.
  const services = { ...(m.services ?? {}), storage: { ...((m.services as { storage?: object } | undefined)?.storage ?? {}), vip: plan.storageIp } };
  // The gateway's public side, as the config gives it: the node services put it on the VIP's holder.
  const pub = plan.config.gateway.public;
  const gateway = pub ? { ...(m.gateway ?? {}), public: { ...(m.gateway?.public ?? {}), ip: pub.ip, netmask: pub.netmask, router: pub.router } } : m.gateway;
  return {
    ...m,
    services,
    ...(gateway ? { gateway } : {}),
    install: {
      container: plan.config.container,
      config: JSON.parse(JSON.stringify(plan.config)) as Record<string, unknown>,
      storageIp: plan.storageIp,
      nodes: plan.nodes.map((n) => ({ ordinal: n.ordinal, hostname: n.hostname, mac: n.mac, ip: n.bootIp, storageIp: n.storageIp, export: n.exportName })),
    },
  };
}

export async function recordManifest(env: InstallEnv, conn: NodeConn, plan: InstallPlan, ctx: StepContext): Promise<Manifest> {
  const root = plan.config.sharedRoot;
  const m = await readManifestVia(conn, root);
  if (!m) throw new VlxError('not-found', `no manifest at ${root}/manifest.json`, 'the install adds to the manifest of a running cluster (`vlx lab up` or the first node writes it)');
  // Through the schema: its key order, so the same manifest is always the same bytes.
  const next = Manifest.parse(withInstall(m, plan));
  const w = await writeFiles(conn, [{ path: `${root}/manifest.json`, data: Buffer.from(JSON.stringify(next, null, 2) + '\n') }], 'manifest');
  ctx.log(w.written ? `manifest: ${root}/manifest.json updated` : 'manifest: unchanged');
  if (env.db) {
    const r = await env.db.query(
      `insert into install_manifest (id, container, body) values (1, $1, $2)
       on conflict (id) do update set container = excluded.container, body = excluded.body, updated_at = now()
       where install_manifest.body is distinct from excluded.body`,
      [plan.config.container, JSON.stringify(next)],
    );
    ctx.log(r.rowCount ? 'manifest: recorded in the database' : 'manifest: database copy unchanged');
  } else ctx.log('manifest: no cluster database yet, kept on shared storage only');
  return next;
}

/** The DHCP map (and boot file) reach dnsmasq on every live serving node through the services deploy. */
export async function deployBootServices(env: InstallEnv, m: Manifest, ctx: StepContext): Promise<void> {
  try {
    const r = await deployServices(env.session, m, (p) => { if (p.step === 'configure' && p.node) ctx.log(`services ${p.node}: ${p.note}`); });
    if (r.skipped.length > 0) ctx.log(`services: left alone (did not answer): ${r.skipped.join(', ')}`);
  } catch (e) {
    // Like a node that does not answer: the others serve the map; `vlx services deploy` finishes the rest.
    if (!(e instanceof VlxError) || e.code === 'unreachable' || e.code === 'invalid-input') throw e;
    ctx.log(`warning: services deploy did not finish everywhere: ${e.message.split('\n')[0]}; run \`vlx services deploy\` again`);
  }
}

/** This workstation learns the installed nodes and trusts the host keys the install made for them. */
export async function joinWorkstation(env: InstallEnv, conn: NodeConn, m: Manifest, ctx: StepContext): Promise<void> {
  const installed = await readInstalledNodes(conn, m);
  const r = joinInstalledNodes(env.session.config.name, installed);
  // This process's own session too: the GUI or agent that ran the install sees the nodes now.
  env.session.addNodes?.(installed.filter((n) => !r.conflicts.includes(n.name)).map((n) => ({ name: n.name, address: n.address })));
  ctx.log(`this workstation: ${describeJoin(r)}`);
}

export function installWorkflow(env: InstallEnv, plan: InstallPlan): WorkflowDef {
  const c = plan.config;
  const paths = pathsOf(plan);
  const ordinals = plan.nodes.map((n) => n.ordinal);
  return {
    kind: 'install',
    target: c.container,
    params: { plan: JSON.parse(JSON.stringify(plan)) as Record<string, unknown> },
    lockKey: `install:${c.container}`,
    steps: [
      step('preflight', async (ctx) => {
        const answers = await env.session.onNodes('all', 'true', { timeoutMs: 15_000 });
        const down = answers.filter((a) => a.error || a.code !== 0).map((a) => a.node);
        if (down.length === answers.length) throw new VlxError('unreachable', 'no node of the cluster answered');
        ctx.log(`nodes: ${answers.length - down.length} of ${answers.length} answer${down.length ? ` (not: ${down.join(', ')})` : ''}`);
        const conn = await env.session.any();
        const out = await runOn(conn, renderPreflightScript(paths), 'preflight');
        const f = parseFacts(out);
        if (f.missing_tools) throw new VlxError('missing-tool', `${conn.name} lacks ${f.missing_tools}`, 'install qemu-utils, openssh-client and coreutils on the nodes');
        if (f.mounted !== 'yes') throw new VlxError('not-found', `shared storage ${paths.root} is not there on ${conn.name}`);
        if (f.writable !== 'yes') throw new VlxError('remote-failed', `shared storage ${paths.root} is not writable on ${conn.name}`);
        const missing = baseImageError(c.baseImage, parseImagesFact(out) ?? [], paths.root);
        if (missing) throw new VlxError('not-found', formatFieldError(missing), 'or name another image with baseImage');
        const fresh = !(f.containers ?? '').split(' ').includes(c.container);
        const need = ordinals.length * (c.sizes.rootMb + c.sizes.swapMb) + c.sizes.sharedMb;
        if (fresh && f.free_mb && need > Number(f.free_mb)) {
          throw new VlxError('invalid-input', `sizes: ${need} MB is above the ${f.free_mb} MB free on ${paths.root}`);
        }
        ctx.log(`shared storage ${paths.root}: mounted, writable, ${f.free_mb ?? '?'} MB free; base image ${c.baseImage} present`);
      }),
      step('storage', async (ctx) => {
        const conn = await env.session.any();
        const t0 = performance.now();
        const out = await runOn(conn, renderStorageScript({
          paths, container: c.container, baseImage: c.baseImage, rootMb: c.sizes.rootMb, swapMb: c.sizes.swapMb, ordinals,
        }), 'storage');
        const ms = Math.round(performance.now() - t0);
        const f = parseFacts(out);
        ctx.log(`storage: original ${out.includes('original copied') ? 'copied from the base image' : 'kept'}; ${f.roots_made ?? 0} of ${ordinals.length} root overlay(s) made in ${ms} ms`);
      }),
      step('configure', async (ctx) => writeNodeConfigs(await env.session.any(), plan, ctx)),
      step('boot', async (ctx) => writeBootFiles(await env.session.any(), plan, ctx)),
      step('manifest', async (ctx) => {
        const conn = await env.session.any();
        const m = await recordManifest(env, conn, plan, ctx);
        await deployBootServices(env, m, ctx);
        await joinWorkstation(env, conn, m, ctx);
      }),
      step('summary', async (ctx) => {
        ctx.log(`container ${c.container} on ${paths.root}: ${plan.nodes.length} disk-less node(s), roots served from ${plan.storageIp}`);
        for (const n of plan.nodes) ctx.log(`  ${n.hostname.padEnd(12)} ${n.bootIp.padEnd(15)} ${n.mac}  root ${paths.nodeRoot(c.container, n.ordinal)} (export ${n.exportName})`);
      }),
    ],
  };
}
