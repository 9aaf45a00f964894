import { existsSync, readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { VlxError } from '../errors.js';
import { sh } from '../util/quote.js';
import { servicePaths } from '../node-services/render.js';
import { validateInstallConfig, type InstallFacts, type InstallPlan, type InstallValidation, type FieldError } from '../domain/installConfig.js';
import { readInstallYaml, type LocatedError } from '../domain/installYaml.js';
import { renderInstallExample } from '../domain/installExample.js';
import { advanceLog, newMacs, parseDhcpLog, parseMacCsv, parseManualMacs } from '../domain/macs.js';
import type { Manifest } from '../domain/manifest.js';
import { parseManifest } from '../domain/manifest.js';
import { storagePaths } from '../domain/storagePaths.js';
import { readManifestVia } from '../cluster/manifest.js';
import { openClusterDb, type Db } from '../db/client.js';
import { runWorkflow } from '../tasks/runner.js';
import type { WorkflowDef } from '../tasks/types.js';
import type { NodeConn } from '../ssh/types.js';
import { parseFacts, parseImagesFact, renderPreflightScript } from '../install/scripts.js';
import { installWorkflow, type InstallEnv } from '../workflows/install.js';
import { restoreWorkflow, updateOriginalWorkflow } from '../workflows/restore.js';
import type { InstallCheck } from '../api/contract.js';
import type { ServiceContext } from './context.js';
import type { Handlers } from './handlers.js';

type C = 'install.validate' | 'install.example' | 'install.run' | 'install.status' | 'install.macs' | 'install.parseMacs' | 'restore.run' | 'install.updateOriginal';

/** The lab host's address on the lab bridge (lab/layout): no node may take it. */
const LAB_HOST = '10.77.0.254';
const DHCP_LOG = servicePaths.dnsmasqLog;
const DHCP_PID = servicePaths.dnsmasqPid;
const LOG_CHUNK = 1 << 20;

/** What only the cluster knows, for the rules across fields; unreachable is a note, not an error. */
async function clusterFacts(ctx: ServiceContext, sharedRoot: string): Promise<{ facts: InstallFacts; freeMb?: number; containersInUse: string[]; note?: string }> {
  try {
    const c = ctx.cluster();
    const conn = await c.session.any();
    const out = (await conn.exec('sh -e', { stdin: renderPreflightScript(storagePaths(sharedRoot)), timeoutMs: 15_000 })).stdout;
    const f = parseFacts(out);
    const images = parseImagesFact(out);
    const m = await readManifestVia(conn, sharedRoot).catch(() => undefined);
    const mine = m?.install?.container;
    const containersInUse = (f.containers ?? '').split(' ').filter((x) => x && x !== mine);
    const taken = [
      ...(m?.nodes ?? c.session.nodes()).map((n) => ({ address: n.address, label: `node ${n.name}` })),
      ...(c.config.lab ? [{ address: LAB_HOST, label: 'the lab host' }] : []),
    ];
    const freeMb = f.free_mb && /^\d+$/.test(f.free_mb) ? Number(f.free_mb) : undefined;
    // On a re-run the installation's own volumes already take their space.
    const facts: InstallFacts = { containersInUse, takenAddresses: taken, ...(freeMb !== undefined && !mine ? { freeMb } : {}), ...(images ? { images } : {}) };
    return { facts, containersInUse, ...(freeMb !== undefined ? { freeMb } : {}) };
  } catch (e) {
    return { facts: {}, containersInUse: [], note: `not checked against the cluster: ${e instanceof Error ? e.message : String(e)}` };
  }
}

function check(source: { yaml?: string; config?: Record<string, unknown> }, facts: InstallFacts): { v: InstallValidation; errors: LocatedError[] } {
  if (source.yaml !== undefined) {
    const v = readInstallYaml(source.yaml, facts);
    return { v: v.ok ? v : { ok: false, errors: v.errors }, errors: v.ok ? [] : v.errors };
  }
  const v = validateInstallConfig(source.config, facts);
  return { v, errors: v.ok ? [] : v.errors };
}

function sharedRootOf(source: { yaml?: string; config?: Record<string, unknown> }): string {
  const v = source.yaml !== undefined ? readInstallYaml(source.yaml) : validateInstallConfig(source.config);
  return v.ok ? v.plan.config.sharedRoot : storagePaths().root;
}

function checkView(v: InstallValidation, errors: LocatedError[]): InstallCheck {
  if (!v.ok) return { ok: false, errors };
  const p = v.plan;
  return {
    ok: true, errors: [],
    config: JSON.parse(JSON.stringify(p.config)) as Record<string, unknown>,
    derived: { bootNetwork: p.bootNetwork, storageNetwork: p.storageNetwork, storageIp: p.storageIp, spare: p.spare, primary: p.primary, backup: p.backup },
    nodes: p.nodes,
  };
}

const fieldErrors = (errors: FieldError[]) => new VlxError('invalid-input', errors.map((e) => `${e.path}: ${e.rule}`).join('; '));

/** The installation recorded in the manifest, planned again from its config. */
async function installedPlan(conn: NodeConn, manifestPath?: string): Promise<{ manifest: Manifest; plan: InstallPlan }> {
  let m: Manifest | undefined;
  if (manifestPath) {
    const r = await conn.exec(sh('cat', manifestPath), { timeoutMs: 10_000 });
    if (r.code !== 0) throw new VlxError('not-found', `manifest: cannot read ${manifestPath} on ${conn.name}: ${r.stderr.trim()}`);
    m = parseManifest(r.stdout, `${manifestPath} on node ${conn.name}`);
  } else m = await readManifestVia(conn);
  if (!m?.install) throw new VlxError('not-found', 'no disk-less installation in the manifest', 'install one with `vlx install --config FILE`');
  const v = validateInstallConfig(m.install.config);
  if (!v.ok) throw new VlxError('invalid-input', `the manifest's install config no longer passes: ${v.errors.map((e) => `${e.path}: ${e.rule}`).join('; ')}`);
  return { manifest: m, plan: v.plan };
}

/**
 * A workflow runs as a DB task when the cluster has its database (resumable, seen by every
 * workstation), else in this process: an install comes before the database on a new cluster.
 */
async function start(ctx: ServiceContext, build: (env: InstallEnv) => WorkflowDef): Promise<{ taskId: string }> {
  const c = ctx.cluster();
  if (c.config.db) {
    const db: Db = openClusterDb(c.config);
    const def = build({ session: c.session, db });
    // An earlier run that did not finish is taken up again from its first step, not its last:
    // every step is idempotent and re-checks shared storage, which may have changed since.
    if (def.lockKey && !(await db.isLocked(def.lockKey))) {
      await db.query(
        `update task_steps set state = 'pending', progress = 0, note = null, started_at = null, ended_at = null
          where task_id in (select id from tasks where kind = $1 and target = $2 and state <> 'succeeded')`,
        [def.kind, def.target],
      );
    }
    return ctx.startTask((o) => {
      const mine = o.onEvent;
      return runWorkflow(db, def, { ...o, onEvent: (e) => { ctx.onTaskEvent(e); mine?.(e); } }).finally(() => void db.close());
    }, ['volumes', 'nodes']);
  }
  const def = build({ session: c.session });
  return {
    taskId: ctx.local.start(def.kind, def.target, def.steps.map((s) => s.name), async (t) => {
      for (const s of def.steps) {
        if (t.signal.aborted) throw new VlxError('cancelled', 'cancelled');
        t.step(s.name);
        await s.run({ taskId: '', log: t.log, progress: () => {}, signal: t.signal });
      }
      ctx.changed('volumes', 'nodes');
    }),
  };
}

function confirmed(container: string, confirm: string | undefined, what: string): void {
  if (confirm !== container) {
    throw new VlxError('invalid-input', `confirm: must be the container's name "${container}" to ${what}`, 'this cannot be undone: what the nodes wrote to their roots is lost');
  }
}

function workstationKey(keyFile: string | undefined): string | undefined {
  const pub = keyFile ? `${keyFile}.pub` : undefined;
  if (!pub || !existsSync(pub)) return undefined;
  const line = readFileSync(pub, 'utf8').trim().split('\n')[0];
  return line || undefined;
}

export const handlers: Handlers<C> = {
  'install.validate': async (ctx, { yaml, config, cluster }) => {
    const source = { ...(yaml !== undefined ? { yaml } : {}), ...(config !== undefined ? { config } : {}) };
    const f = cluster ? await clusterFacts(ctx, sharedRootOf(source)) : undefined;
    const { v, errors } = check(source, f?.facts ?? {});
    const view = checkView(v, errors);
    return f ? { ...view, facts: { containersInUse: f.containersInUse, ...(f.freeMb !== undefined ? { freeMb: f.freeMb } : {}), ...(f.note ? { note: f.note } : {}) } } : view;
  },
  'install.example': async (ctx) => {
    let key: string | undefined;
    let cluster: string | undefined;
    try { const c = ctx.cluster().config; key = workstationKey(c.keyFile); cluster = c.name; } catch { /* no cluster: the placeholder */ }
    const yaml = renderInstallExample({ ...(key ? { sshKey: key } : {}), ...(cluster ? { cluster } : {}) });
    return { yaml, config: parseYaml(yaml) as Record<string, unknown> };
  },
  'install.run': async (ctx, { yaml, config }) => {
    const source = { ...(yaml !== undefined ? { yaml } : {}), ...(config !== undefined ? { config } : {}) };
    const f = await clusterFacts(ctx, sharedRootOf(source));
    if (f.note) throw new VlxError('unreachable', f.note);
    const { v, errors } = check(source, f.facts);
    if (!v.ok) throw fieldErrors(errors);
    return start(ctx, (env) => installWorkflow(env, v.plan));
  },
  'install.status': async (ctx, { manifest }) => {
    const conn = await ctx.cluster().session.any();
    try {
      const { plan } = await installedPlan(conn, manifest);
      return {
        installed: true, container: plan.config.container, sharedRoot: plan.config.sharedRoot, storageIp: plan.storageIp,
        nodes: plan.nodes.map((n) => ({ ordinal: n.ordinal, hostname: n.hostname, mac: n.mac, ip: n.bootIp, export: n.exportName })),
      };
    } catch (e) {
      if (e instanceof VlxError && e.code === 'not-found' && !manifest) return { installed: false, nodes: [] };
      throw e;
    }
  },
  'install.macs': async (ctx, { node, cursor, known }) => {
    const s = ctx.cluster().session;
    const conn = node ? await s.node(node) : await s.any();
    const from = cursor ?? 0;
    // A node whose DHCP server does not run logs nobody's request: say so rather than list nothing.
    const script = `f=${sh(DHCP_LOG)}; size=$(stat -c %s "$f" 2>/dev/null || echo 0); p=$(cat ${sh(DHCP_PID)} 2>/dev/null); `
      + `if [ -n "$p" ] && grep -qa dnsmasq "/proc/$p/cmdline" 2>/dev/null; then echo "$size up"; else echo "$size down"; fi; ` +
      (cursor === undefined ? 'exit 0' : `off=${from}; [ "$size" -lt "$off" ] && off=0; tail -c +$((off+1)) "$f" 2>/dev/null | head -c ${LOG_CHUNK}`);
    const r = await conn.exec(script, { timeoutMs: 15_000 });
    if (r.code !== 0) throw new VlxError('remote-failed', `${conn.name}: cannot read ${DHCP_LOG}: ${r.stderr.trim() || `exit ${r.code}`}`);
    const nl = r.stdout.indexOf('\n');
    const [sizeWord, dhcp] = r.stdout.slice(0, nl).split(' ');
    if (dhcp !== 'up') {
      throw new VlxError('conflict', `${conn.name}: its DHCP server does not run, so no machine's request reaches its log`, 'deploy the node services (`vlx services deploy`), then power the machines on');
    }
    const size = Number(sizeWord);
    if (cursor === undefined) return { node: conn.name, cursor: size, restarted: false, macs: [] };
    const a = advanceLog(from, size, r.stdout.slice(nl + 1));
    // MACs already in the manifest (the nodes themselves, an earlier install) are not new machines.
    const m = await readManifestVia(conn).catch(() => undefined);
    const own = [...(m?.nodes ?? []).map((n) => n.mac ?? ''), ...(m?.install?.nodes ?? []).map((n) => n.mac)].filter(Boolean);
    return { node: conn.name, cursor: a.cursor, restarted: a.restarted, macs: newMacs(parseDhcpLog(a.text), [...known, ...own]) };
  },
  'install.parseMacs': async (_ctx, { csv, text, known }) => {
    if (csv !== undefined) {
      const r = parseMacCsv(csv);
      const dup = r.entries.filter((e) => known.includes(e.mac));
      return { entries: r.entries, errors: [...r.errors.map((e) => ({ ...(e.line > 0 ? { line: e.line } : {}), rule: e.rule })), ...dup.map((e) => ({ rule: `mac ${e.mac} is already listed` }))] };
    }
    const r = parseManualMacs(text ?? '', known);
    return { entries: r.macs.map((mac, i) => ({ ordinal: known.length + i + 1, mac })), errors: r.errors };
  },
  'restore.run': async (ctx, req) => {
    const conn = await ctx.cluster().session.any();
    const { plan } = await installedPlan(conn, req.manifest);
    const destructive = req.action !== 'rebuild-config' || req.formatShared;
    if (destructive) confirmed(plan.config.container, req.confirm, req.action === 'rebuild-config' ? 'empty the shared volume' : 'reset node roots');
    const r = { action: req.action, formatShared: req.formatShared, force: req.force, ...(req.node !== undefined ? { node: req.node } : {}) };
    return start(ctx, (env) => restoreWorkflow(env, plan, r));
  },
  'install.updateOriginal': async (ctx, { image, force, confirm }) => {
    const conn = await ctx.cluster().session.any();
    const { plan } = await installedPlan(conn);
    confirmed(plan.config.container, confirm, 'replace the original and reset every node root');
    return start(ctx, (env) => updateOriginalWorkflow(env, plan, { image: image ?? plan.config.baseImage, force }));
  },
};
