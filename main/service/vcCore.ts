import { VlxError, asVlxError, invalid } from '../errors.js';
import { sh } from '../util/quote.js';
import { checkInt, checkName } from '../util/names.js';
import { runWorkflow, type RunOptions } from '../tasks/runner.js';
import { listTasks } from '../tasks/store.js';
import type { TaskEvent, TaskSummary, WorkflowDef } from '../tasks/types.js';
import type { MovePlan, MoveResult, VcInfo, VmInfo, VcState, VmState, VolumeNodeT } from '../api/contract.js';
import { parseVcSpec, validateAgainstCluster } from '../domain/vcSpec.js';
import { closeVcEnv, openVcEnv, refreshNodes, vcSubnetReserved, vcSubnetPool, type VcEnv } from '../cluster/env.js';
import { supersedeTasks, listVcRows, vmsOf, findVc, getVc, ACTIVE_VM_STATES, allVms, volumesOf, type VcRow, type VmRow } from '../cluster/repo.js';
import { createWorkflow, destroyWorkflow, moveWorkflow, restoreWorkflow, saveWorkflow, startWorkflow, stopWorkflow, type MoveRequest } from '../workflows/vc.js';
import { readImageMeta } from '../vm/vmOps.js';
import type { BootMode } from '../vm/warmStart.js';
import { parseScan, renderScanScript } from '../vm/scripts.js';
import { parseNfsProbe, renderNfsProbe } from '../network/sharedNfs.js';
import { parseRoutes, ROUTE_LIST_ARGV } from '../network/routes.js';
import { tapName } from '../domain/addressing.js';
import { NODE_RUN } from '../config/paths.js';
import { ImageMetaSchema } from '../images/types.js';
import type { Mode, Policy } from '../placement/place.js';
import { busyWith, moveAction } from '../domain/move.js';
import { readManifestVia } from '../cluster/manifest.js';
import { snapshotDiskTrees } from './snapshotVolumes.js';

/**
 * What every face (CLI, web bridge, Electron) calls to work with virtual clusters. Input is
 * checked here before anything is written; each long operation runs as a task and returns
 * its final TaskSummary (pass `onEvent` to follow it live).
 */
export type VcRunOptions = Pick<RunOptions, 'onEvent' | 'signal'>;

export class VcService {
  /** onTaskEvent: where every task event of this service goes besides the caller's own listener. */
  constructor(readonly env: VcEnv, private readonly onTaskEvent?: (e: TaskEvent) => void) {}

  static open(cluster?: string): VcService {
    return new VcService(openVcEnv(cluster));
  }

  close(): Promise<void> {
    return closeVcEnv(this.env);
  }

  /** Run a workflow of this cluster as a task (the snapshot service runs its workflows here too). */
  async run(def: WorkflowDef, opts: VcRunOptions = {}): Promise<TaskSummary> {
    const vc = def.target.split('/')[0];
    // A live task of this VC holds its lock: then runWorkflow answers 'conflict' and nothing is superseded.
    if (def.lockKey && !(await this.env.db.isLocked(def.lockKey))) await supersedeTasks(this.env.db, vc, def.kind);
    const mine = opts.onEvent;
    const all = this.onTaskEvent;
    const onEvent = mine && all ? (e: TaskEvent) => { all(e); mine(e); } : mine ?? all;
    return runWorkflow(this.env.db, def, { ...opts, ...(onEvent ? { onEvent } : {}) });
  }

  /** Known images on shared storage: names and template sizes (one round trip). */
  async images(): Promise<{ name: string; virtualBytes?: number }[]> {
    const conn = await this.env.session.any();
    const dir = this.env.paths.imagesDir;
    const r = await conn.exec(`for f in ${sh(dir)}/*.json; do [ -e "$f" ] && { cat "$f"; echo; echo '\x1e'; }; done; true`);
    const out: { name: string; virtualBytes?: number }[] = [];
    for (const chunk of r.stdout.split('\x1e')) {
      if (!chunk.trim()) continue;
      try {
        const m = ImageMetaSchema.safeParse(JSON.parse(chunk));
        if (m.success) out.push({ name: m.data.name, virtualBytes: m.data.sizes.qcow2Virtual });
      } catch { /* not an image's metadata */ }
    }
    return out;
  }

  /**
   * Everything is checked before the task's first write: the spec's own rules, then the
   * cluster (image present, memory fits a node, name free, subnet free and clear of the
   * cluster network). A VC left in 'creating' by a killed create is resumed instead.
   */
  async createVc(raw: unknown, opts: VcRunOptions = {}): Promise<TaskSummary> {
    const spec = parseVcSpec(raw);
    const existing = await findVc(this.env.db, spec.name);
    let resolved = spec;
    // A create killed after its last step's writes, before its task was closed: the re-run resumes that task.
    const unfinished = existing && existing.state !== 'creating'
      && (await listTasks(this.env.db, { kind: 'vc.create', target: spec.name, limit: 1, all: true }))[0]?.state === 'running'
      && !(await this.env.db.isLocked(`vc:${spec.name}`));
    if (existing?.state === 'creating' || unfinished) {
      resolved = { ...spec, subnet: existing.subnet };
    } else {
      const [nodes, images, vcs, reserved, pool] = await Promise.all([
        refreshNodes(this.env), this.images(), listVcRows(this.env.db), vcSubnetReserved(this.env), vcSubnetPool(this.env),
      ]);
      resolved = validateAgainstCluster(spec, { nodes, images, vcs, reserved, pool });
    }
    const meta = await readImageMeta(this.env, resolved.image);
    return this.run(createWorkflow(this.env, resolved, meta), opts);
  }

  /** Without a policy or mode, the VC's last ones (block/strict for a new VC). */
  async startVc(name: string, policy?: Policy, mode?: Mode, opts: VcRunOptions = {}, boot: BootMode = 'warm'): Promise<TaskSummary> {
    checkName('vc', name, 'name');
    if (boot !== 'warm' && boot !== 'cold') throw invalid('boot', 'must be warm or cold', boot);
    const vc = await getVc(this.env.db, name);
    const p = policy ?? vc.policy;
    const m = mode ?? vc.mode;
    checkPolicy(p, m);
    return this.run(startWorkflow(this.env, name, p, m, boot), opts);
  }

  async stopVc(name: string, stopOpts: { timeoutS?: number } = {}, opts: VcRunOptions = {}): Promise<TaskSummary> {
    checkName('vc', name, 'name');
    const timeoutS = stopOpts.timeoutS === undefined ? 30 : checkInt(stopOpts.timeoutS, 'timeoutS', 0, 3600);
    await getVc(this.env.db, name);
    return this.run(stopWorkflow(this.env, name, timeoutS), opts);
  }

  async saveVc(name: string, opts: VcRunOptions = {}): Promise<TaskSummary> {
    checkName('vc', name, 'name');
    await getVc(this.env.db, name);
    return this.run(saveWorkflow(this.env, name), opts);
  }

  async restoreVc(name: string, policy?: Policy, mode?: Mode, opts: VcRunOptions = {}): Promise<TaskSummary> {
    checkName('vc', name, 'name');
    if (policy !== undefined && policy !== 'block' && policy !== 'cyclic') throw invalid('policy', 'must be block or cyclic', policy);
    if (mode !== undefined && mode !== 'strict' && mode !== 'free') throw invalid('mode', 'must be strict or free', mode);
    await getVc(this.env.db, name);
    return this.run(restoreWorkflow(this.env, name, policy, mode), opts);
  }

  /**
   * A VC already gone is a destroy that converged, unless its last destroy never ended (a
   * kill after its row went, before the network sync): that one is run again to its end.
   */
  async destroyVc(name: string, opts: VcRunOptions = {}): Promise<TaskSummary> {
    checkName('vc', name, 'name');
    if (!(await findVc(this.env.db, name))) {
      const [last] = await listTasks(this.env.db, { kind: 'vc.destroy', target: name, limit: 1, all: true });
      if (!last || last.state === 'succeeded') await getVc(this.env.db, name); // not-found, as before
    }
    return this.run(destroyWorkflow(this.env, name), opts);
  }

  /** One result per VM; a refusal for one VM does not stop the others. */
  async moveVms(reqs: MoveRequest[], opts: VcRunOptions = {}): Promise<MoveResult[]> {
    const out: MoveResult[] = [];
    for (const r of reqs) {
      try {
        const plan = (await this.planMoves([r]))[0]!;
        if (plan.action === 'refuse') throw new VlxError('conflict', plan.reason);
        const action = plan.action;
        const task = await this.run(moveWorkflow(this.env, r), opts);
        out.push({
          vc: r.vc, vm: r.vm, ok: task.state === 'succeeded', action, taskId: task.id,
          ...(task.error ? { error: { code: task.error.code, message: task.error.message } } : {}),
        });
      } catch (e) {
        const err = asVlxError(e);
        out.push({ vc: r.vc, vm: r.vm, ok: false, error: { code: err.code, message: err.message, ...(err.hint ? { hint: err.hint } : {}) } });
      }
    }
    return out;
  }

  /** What each move would do (moveAction on the VM's row), in order; changes nothing. */
  async planMoves(reqs: MoveRequest[]): Promise<MovePlan[]> {
    const out: MovePlan[] = [];
    const cache = new Map<string, VmRow[]>();
    // A VM a live task acts on is in transit: the domain rule refuses to move it meanwhile.
    const running = (await listTasks(this.env.db, { limit: 0 })).filter((t) => t.state === 'running');
    for (const r of reqs) {
      checkName('vc', r.vc, 'vc');
      checkName('vm', r.vm, 'vm');
      checkName('node', r.to, 'to');
      if (!this.env.session.nodes().some((n) => n.name === r.to)) throw invalid('to', `must be a node of cluster ${this.env.cluster.name}`, r.to);
      let vms = cache.get(r.vc);
      if (!vms) cache.set(r.vc, (vms = await vmsOf(this.env.db, (await getVc(this.env.db, r.vc)).name)));
      const row = vms.find((v) => v.name === r.vm);
      if (!row) throw new VlxError('not-found', `VC ${r.vc} has no VM "${r.vm}"`);
      const d = moveAction({ vc: r.vc, vm: r.vm, state: row.state, node: row.node, busy: busyWith(r.vc, r.vm, running) }, r.to);
      out.push({ vc: r.vc, vm: r.vm, ...(row.node ? { from: row.node } : {}), action: d.action, reason: d.reason });
    }
    return out;
  }

  async listVcs(): Promise<VcInfo[]> {
    const [vcs, vms] = await Promise.all([listVcRows(this.env.db), allVms(this.env.db)]);
    return vcs.map((vc) => vcInfo(vc, vms.filter((v) => v.vc === vc.name)));
  }

  /**
   * What the DB says next to what is: QEMU processes (pid files + /proc) and VC routes on
   * every node, one round trip per node. Every difference becomes a drift line.
   */
  async vcStatus(name: string): Promise<VcStatus> {
    checkName('vc', name, 'name');
    const vc = await getVc(this.env.db, name);
    const vms = await vmsOf(this.env.db, name);
    const script = `${renderScanScript(NODE_RUN)}echo '--routes--'\n${sh(...ROUTE_LIST_ARGV)}\necho '--nfs--'\n${renderNfsProbe(name)}`;
    // Exports follow the network sync of a start; a VC with no VM running needs none yet.
    const served = vc.state !== 'destroying' && vms.some((v) => v.node && ACTIVE_VM_STATES.includes(v.state as typeof ACTIVE_VM_STATES[number]));
    const results = await this.env.session.onNodes('all', 'sh -e', { stdin: script, timeoutMs: 15_000 });
    const drift: string[] = [];
    const actual: Record<string, string[]> = {};
    const unreachable: string[] = [];
    const addresses = new Map(this.env.session.nodes().map((n) => [n.name, n.address]));
    const activeStates = new Set<string>(ACTIVE_VM_STATES);
    for (const r of results) {
      if (r.code !== 0) {
        unreachable.push(r.node);
        continue;
      }
      const [scan, rest = ''] = r.stdout.split('--routes--');
      const [routes, nfsOut = ''] = rest.split('--nfs--');
      const nfs = parseNfsProbe(nfsOut);
      if (served && !nfs.server) drift.push(`${r.node}: the shared storage server (NFS-Ganesha) is not running`);
      else if (served && !nfs.exported) drift.push(`${r.node}: the VC's shared storage is not exported`);
      for (const p of parseScan(scan).filter((p) => p.vc === name)) (actual[p.vm] ??= []).push(r.node);
      const have = new Map(parseRoutes(routes).map((x) => [x.dst, x]));
      for (const v of vms) {
        if (!v.node || !activeStates.has(v.state)) continue;
        const route = have.get(`${v.ip}/32`);
        const want = v.node === r.node ? `dev ${tapName(v.ip)}` : `via ${addresses.get(v.node)}`;
        const got = !route ? 'none' : 'dev' in route ? `dev ${route.dev}` : `via ${route.via}`;
        if (got !== want) drift.push(`${r.node}: route to ${v.name} (${v.ip}) is ${got}, should be ${want}`);
      }
    }
    for (const v of vms) {
      const where = actual[v.name] ?? [];
      const shouldRun = v.node !== null && activeStates.has(v.state);
      if (where.length > 1) drift.push(`${v.name}: QEMU runs on ${where.length} nodes (${where.join(', ')})`);
      if (shouldRun && !where.includes(v.node as string) && !unreachable.includes(v.node as string)) {
        drift.push(`${v.name}: DB says ${v.state} on ${v.node}, but no QEMU runs there`);
      }
      for (const n of where) if (!shouldRun || n !== v.node) drift.push(`${v.name}: QEMU runs on ${n}, DB says ${v.state}${v.node ? ` on ${v.node}` : ''}`);
    }
    for (const n of unreachable) drift.push(`${n}: not reachable, its part is unknown`);
    const tasks = await listTasks(this.env.db, { limit: 10 }).then((t) => t.filter((x) => x.target === name || x.target.startsWith(`${name}/`)));
    return { ...vcInfo(vc, vms), drift, actual, tasks };
  }

  /**
   * The backing chains of every volume on shared storage: images as roots, VM disks under
   * the image they overlay. One `qemu-img info --backing-chain` per VM disk, all in one round trip.
   */
  async volumesTree(): Promise<VolumeNodeT[]> {
    const vols = await volumesOf(this.env.db);
    // A VM disk with VC snapshots shows as the tree of its files (snapshotVolumes), not as one overlay.
    const snapTrees = await snapshotDiskTrees(this.env);
    const disks = vols.filter((v) => v.kind === 'swap' || (v.kind === 'root' && !snapTrees.has(`${v.vc}/${v.vm}`)));
    const conn = await this.env.session.any();
    // The disk-less installation: each node's root is an overlay of the cluster's original.
    const install = (await readManifestVia(conn, this.env.paths.root).catch(() => undefined))?.install;
    const nodeRoots = (install?.nodes ?? []).map((n) => ({ path: this.env.paths.nodeRoot(install!.container, n.ordinal), host: n.hostname }));
    const paths = [...disks.map((d) => d.path), ...nodeRoots.map((n) => n.path)];
    const script = paths.map((p) => `echo ${sh(`--vol ${p}`)}; qemu-img info -U --backing-chain --output=json ${sh(p)} || echo '[]'`).join('\n') + '\n';
    const out = paths.length ? await conn.run('sh', { stdin: script, timeoutMs: 120_000 }) : '';
    const chains = new Map<string, { filename: string; format: string; 'virtual-size': number; 'actual-size'?: number }[]>();
    for (const part of out.split('--vol ').slice(1)) {
      const nl = part.indexOf('\n');
      try {
        chains.set(part.slice(0, nl).trim(), JSON.parse(part.slice(nl + 1)));
      } catch { /* an unreadable volume shows without sizes */ }
    }
    const roots = new Map<string, VolumeNodeT>();
    const loose: VolumeNodeT[] = [];
    for (const d of disks) {
      const chain = chains.get(d.path) ?? [];
      const self = chain[0];
      const node: VolumeNodeT = {
        path: d.path, kind: d.kind === 'root' ? 'vm-disk' : 'swap', format: self?.format ?? 'qcow2',
        allocatedBytes: self?.['actual-size'] ?? 0, virtualBytes: self?.['virtual-size'] ?? 0,
        usedBy: `${d.vc}/${d.vm}`, canReset: false, canDelete: false, children: [],
      };
      const base = chain[1];
      if (!base) { loose.push(node); continue; }
      let root = roots.get(base.filename);
      if (!root) {
        root = {
          path: base.filename, kind: 'image', format: base.format, allocatedBytes: base['actual-size'] ?? 0,
          virtualBytes: base['virtual-size'], canReset: false, canDelete: false, children: [],
        };
        roots.set(base.filename, root);
      }
      root.children.push(node);
    }
    for (const t of snapTrees.values()) {
      let root = roots.get(t.image);
      if (!root) {
        root = { path: t.image, kind: 'image', format: 'qcow2', allocatedBytes: t.imageBytes.allocated, virtualBytes: t.imageBytes.virtual, canReset: false, canDelete: false, children: [] };
        roots.set(t.image, root);
      }
      root.children.push(...t.roots);
    }
    const installed: VolumeNodeT[] = [];
    if (install && nodeRoots.length) {
      const originalPath = this.env.paths.clusterOriginal(install.container);
      const base = nodeRoots.map((n) => chains.get(n.path)?.[1]).find((b) => b?.filename === originalPath);
      const original: VolumeNodeT = {
        path: originalPath, kind: 'original', format: base?.format ?? 'qcow2', allocatedBytes: base?.['actual-size'] ?? 0,
        virtualBytes: base?.['virtual-size'] ?? 0, usedBy: `installation ${install.container}`, canReset: false, canDelete: false, children: [],
      };
      for (const n of nodeRoots) {
        const chain = chains.get(n.path) ?? [];
        const node: VolumeNodeT = {
          path: n.path, kind: 'node-root', format: chain[0]?.format ?? 'qcow2', allocatedBytes: chain[0]?.['actual-size'] ?? 0,
          virtualBytes: chain[0]?.['virtual-size'] ?? 0, usedBy: n.host, canReset: false, canDelete: false, children: [],
        };
        // A root that is not (or no longer) an overlay of the original shows on its own.
        if (chain[1]?.filename === originalPath) original.children.push(node);
        else loose.push(node);
      }
      installed.push(original);
    }
    return [...installed, ...roots.values(), ...loose];
  }
}

export interface VcStatus extends VcInfo {
  drift: string[];
  /** VM → nodes where its QEMU was found running. */
  actual: Record<string, string[]>;
  tasks: TaskSummary[];
}

function checkPolicy(policy: unknown, mode: unknown): void {
  if (policy !== 'block' && policy !== 'cyclic') throw invalid('policy', 'must be block or cyclic', policy);
  if (mode !== 'strict' && mode !== 'free') throw invalid('mode', 'must be strict or free', mode);
}

const VC_STATE: Record<string, VcState> = {
  creating: 'creating', created: 'stopped', starting: 'starting', running: 'running', stopping: 'stopping', stopped: 'stopped',
  saving: 'saving', saved: 'saved', restoring: 'restoring', destroying: 'destroying', error: 'error',
};
const VM_STATE: Record<string, VmState> = {
  defined: 'stopped', starting: 'starting', running: 'running', paused: 'paused', stopping: 'stopping', stopped: 'stopped',
  saving: 'saving', saved: 'saved', restoring: 'starting', migrating: 'migrating', error: 'error',
};

function vcInfo(vc: VcRow, vms: VmRow[]): VcInfo {
  const vmInfos: VmInfo[] = vms.map((v) => ({
    name: v.name, vc: v.vc, ...(v.node ? { node: v.node } : {}), state: VM_STATE[v.state] ?? 'unknown', address: v.ip, mac: v.mac,
  }));
  let state = VC_STATE[vc.state] ?? 'unknown';
  if (state === 'running' && vmInfos.some((v) => v.state !== 'running')) state = 'partial';
  return {
    name: vc.name, state, image: vc.image, vcpus: vc.vcpus, memMb: vc.memMb, diskGb: vc.diskGb, swapMb: vc.swapMb,
    subnet: vc.subnet, policy: vc.policy, mode: vc.mode, createdAt: new Date(vc.createdAt).toISOString(), vms: vmInfos,
  };
}
