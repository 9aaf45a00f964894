import { VlxError } from '../errors.js';
import { sh } from '../util/quote.js';
import type { Step, StepContext, WorkflowDef } from '../tasks/types.js';
import type { InstallPlan } from '../domain/installConfig.js';
import type { NodeConn } from '../ssh/types.js';
import { parseFacts, renderResetScript } from '../install/scripts.js';
import { deployBootServices, joinWorkstation, pathsOf, recordManifest, runOn, writeBootFiles, writeNodeConfigs, type InstallEnv } from './install.js';

/**
 * The restore facility (the report's restore.sh) and the upgrade path, as tasks:
 * - rebuild-config: every node's configuration and boot entry again; volumes untouched;
 * - reset-all / reset-node: the roots back to the original (a new overlay each);
 * - format-shared: the shared volume emptied;
 * - update-original: a new original from an image, then every root reset onto it.
 * A node that answers on the network is running and is refused unless `force`.
 */
export type RestoreAction = 'rebuild-config' | 'reset-all' | 'reset-node';
export interface RestoreRequest {
  action: RestoreAction;
  node?: number;
  formatShared?: boolean;
  force?: boolean;
}

const step = (name: string, run: (ctx: StepContext) => Promise<void>): Step => ({ name, run });

/** Nodes answering on the network (ping, else sshd's port), asked in parallel from a serving node. */
export async function runningNodes(conn: NodeConn, plan: InstallPlan, ordinals: number[]): Promise<{ ordinal: number; hostname: string; ip: string }[] | undefined> {
  const nodes = plan.nodes.filter((n) => ordinals.includes(n.ordinal));
  // ping where there is one; else a TCP connect to sshd (refused still means a live machine).
  const script = [
    'if command -v ping >/dev/null 2>&1; then probe() { ping -c 1 -W 1 "$1" >/dev/null 2>&1 && echo "up $1"; }',
    'elif command -v bash >/dev/null 2>&1 && command -v timeout >/dev/null 2>&1; then',
    '  probe() { out=$(timeout 2 bash -c "exec 3<>/dev/tcp/$1/22" 2>&1) && { echo "up $1"; return; }; case "$out" in *refused*) echo "up $1";; esac; }',
    'else echo noping; exit 0; fi',
    ...nodes.map((n) => `probe ${sh(n.bootIp)} &`),
    'wait',
  ].join('\n') + '\n';
  const out = await runOn(conn, script, 'running check', 30_000);
  if (out.includes('noping')) return undefined;
  const up = new Set(out.split('\n').filter((l) => l.startsWith('up ')).map((l) => l.slice(3).trim()));
  return nodes.filter((n) => up.has(n.bootIp)).map((n) => ({ ordinal: n.ordinal, hostname: n.hostname, ip: n.bootIp }));
}

async function refuseRunning(conn: NodeConn, plan: InstallPlan, ordinals: number[], force: boolean | undefined, ctx: StepContext): Promise<void> {
  const running = await runningNodes(conn, plan, ordinals);
  if (running === undefined) { ctx.log(`cannot tell which nodes run (neither ping nor bash on ${conn.name})${force ? '' : ': give --force to go on'}`); if (!force) throw new VlxError('conflict', `cannot tell whether the nodes run (neither ping nor bash on ${conn.name})`, 'power them off, then give --force'); return; }
  if (running.length === 0) return ctx.log('no node to reset is running');
  const names = running.map((n) => `${n.hostname} (${n.ip})`).join(', ');
  if (!force) throw new VlxError('conflict', `${names} ${running.length > 1 ? 'are' : 'is'} running: its root is in use`, 'power it off first (`vlx lab power-off NAME` in the lab), or give --force');
  ctx.log(`--force: resetting under running node(s) ${names}; they must be rebooted`);
}

function ordinalsOf(plan: InstallPlan, req: RestoreRequest): number[] {
  if (req.action !== 'reset-node') return plan.nodes.map((n) => n.ordinal);
  if (req.node === undefined || !plan.nodes.some((n) => n.ordinal === req.node)) {
    throw new VlxError('invalid-input', `node: must be a node of the installation, 1 to ${plan.nodes.length}`, req.node === undefined ? undefined : String(req.node));
  }
  return [req.node];
}

/**
 * The root server keeps the replaced overlay open (same name, old file): it must open the
 * new one. Its own script (node-services/storage) stops and converges again on every node;
 * only the holder of the storage address starts serving.
 */
const STORAGE_SCRIPT = '/etc/virtualinux/services/storage-serve.sh';
async function reopenRoots(env: InstallEnv, ctx: StepContext): Promise<void> {
  const script = `s=${STORAGE_SCRIPT}; if [ -x "$s" ]; then "$s" vlx_storage vlx_storage BACKUP >/dev/null 2>&1; "$s" converge 2>&1 | tail -n 1; else echo "no root server here"; fi`;
  const rs = await env.session.onNodes('all', script, { timeoutMs: 60_000 });
  for (const r of rs) ctx.log(`root server ${r.node}: ${r.error ? r.error.message : (r.stdout.trim() || `exit ${r.code}`)}`);
}

async function resetRoots(env: InstallEnv, plan: InstallPlan, ordinals: number[], ctx: StepContext): Promise<void> {
  const conn = await env.session.any();
  const t0 = performance.now();
  const out = await runOn(conn, renderResetScript(pathsOf(plan), plan.config.container, ordinals), 'reset');
  ctx.log(`${out.split('\n').filter((l) => l.startsWith('reset ')).length} root(s) reset to the original in ${Math.round(performance.now() - t0)} ms`);
  await reopenRoots(env, ctx);
}

async function formatShared(conn: NodeConn, plan: InstallPlan, ctx: StepContext): Promise<void> {
  const dir = pathsOf(plan).clusterShared(plan.config.container);
  await runOn(conn, `mkdir -p ${sh(dir)}\nfind ${sh(dir)} -mindepth 1 -delete\n`, 'format shared');
  ctx.log(`shared volume ${dir} emptied`);
}

export function restoreWorkflow(env: InstallEnv, plan: InstallPlan, req: RestoreRequest): WorkflowDef {
  const ordinals = ordinalsOf(plan, req);
  const resets = req.action !== 'rebuild-config';
  const steps: Step[] = [];
  if (resets) steps.push(step('check', async (ctx) => refuseRunning(await env.session.any(), plan, ordinals, req.force, ctx)));
  if (resets) steps.push(step('reset', async (ctx) => resetRoots(env, plan, ordinals, ctx)));
  if (req.formatShared) steps.push(step('format-shared', async (ctx) => formatShared(await env.session.any(), plan, ctx)));
  steps.push(
    step('configure', async (ctx) => writeNodeConfigs(await env.session.any(), plan, ctx, req.action === 'reset-node' ? ordinals : undefined)),
    step('boot', async (ctx) => writeBootFiles(await env.session.any(), plan, ctx)),
  );
  if (req.action === 'rebuild-config') {
    steps.push(step('manifest', async (ctx) => {
      const conn = await env.session.any();
      const m = await recordManifest(env, conn, plan, ctx);
      await deployBootServices(env, m, ctx);
      await joinWorkstation(env, conn, m, ctx);
    }));
  }
  return {
    kind: `restore.${req.action}`,
    target: req.action === 'reset-node' ? `${plan.config.container}/node${req.node}` : plan.config.container,
    params: { ...req },
    lockKey: `install:${plan.config.container}`,
    steps,
  };
}

/**
 * The report's upgrade path: the original becomes a copy of `image` (an image rebuilt with
 * the change, e.g. more packages), every root is reset onto it and the kernel and initrd
 * are refreshed. The old original stays beside it until the roots are reset, so a run
 * killed half-way is finished by running it again.
 */
export function updateOriginalWorkflow(env: InstallEnv, plan: InstallPlan, opts: { image: string; force?: boolean }): WorkflowDef {
  const paths = pathsOf(plan);
  const c = plan.config;
  const ordinals = plan.nodes.map((n) => n.ordinal);
  const orig = paths.clusterOriginal(c.container);
  const img = paths.image(opts.image).disk;
  const next = `${orig}.next`;
  const withImage: InstallPlan = { ...plan, config: { ...c, baseImage: opts.image } };
  return {
    kind: 'install.update-original',
    target: c.container,
    params: { image: opts.image, force: Boolean(opts.force) },
    lockKey: `install:${c.container}`,
    steps: [
      step('check', async (ctx) => {
        const conn = await env.session.any();
        await refuseRunning(conn, plan, ordinals, opts.force, ctx);
        const r = await conn.exec(sh('test', '-e', img));
        if (r.code !== 0) throw new VlxError('not-found', `image: ${img} is missing`, 'build or import the image with the change first');
      }),
      step('original', async (ctx) => {
        const conn = await env.session.any();
        const out = await runOn(conn, [
          `if cmp -s ${sh(img, orig)}; then echo "same 1"; exit 0; fi`,
          `[ -e ${sh(next)} ] || { cp --reflink=auto --sparse=always ${sh(img, `${next}.part`)} && mv ${sh(`${next}.part`, next)}; }`,
          `chmod 0444 ${sh(next)} && mv -f ${sh(next, orig)}`,
          'echo "same 0"',
        ].join('\n') + '\n', 'update original');
        ctx.log(parseFacts(out).same === '1' ? `original already equals ${opts.image}` : `original replaced by a copy of ${opts.image}`);
      }),
      step('reset', async (ctx) => resetRoots(env, plan, ordinals, ctx)),
      step('boot', async (ctx) => writeBootFiles(await env.session.any(), withImage, ctx)),
      step('manifest', async (ctx) => { await recordManifest(env, await env.session.any(), withImage, ctx); }),
    ],
  };
}
