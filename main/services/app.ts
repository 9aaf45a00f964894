import { VlxError } from '../errors.js';
import { appHome } from '../config/paths.js';
import { currentClusterName, getCluster, listClusters, putCluster, removeCluster, useCluster, type ClusterConfig } from '../config/clusters.js';
import { acceptHostKey, probeHostKey } from '../ssh/hostKeys.js';
import { firstContact } from '../cluster/firstContact.js';
import { EventHub } from '../api/events.js';
import { CLUSTER_NETWORK } from '../lab/layout.js';
import { labCrash, labDown, labStatus, type LabStatus as LabModuleStatus } from '../lab/index.js';
import { reviveLabNode, startLab } from './lab.js';
import { openCluster, type SshClusterSession } from '../ssh/session.js';
import { inspectNodes, type NodeInfo as InspectedNode } from '../nodes/inspect.js';
import { TerminalHub } from '../consoles/terminals.js';
import { mappingHint } from '../consoles/mappingHint.js';
import { LocalTasks } from './localTasks.js';
import { VcService, type VcRunOptions } from './vc.js';
import { openVcEnv, placementNodes } from '../cluster/env.js';
import { vmName } from '../domain/addressing.js';
import { previewPlacement } from '../placement/place.js';
import { listImages, publishImage } from '../images/library.js';
import { buildTiny, type BuiltImage } from '../images/tiny.js';
import { storagePaths } from '../domain/storagePaths.js';
import { events as taskBus } from '../events.js';
import { cancelTask, getTask, listTasks } from '../tasks/store.js';
import type { TaskSummary as RunnerTaskSummary } from '../tasks/types.js';
import type { AppServices, ServiceMethods } from '../api/methods.js';
import type { ClusterInfo, EventPayload, ImageInfo, LabStatus, NodeInfo, Output, TaskSummary } from '../api/contract.js';

/**
 * The real services behind every face of the app. Each method delegates to the module that
 * owns the work (the same ones the CLI calls); nothing here decides anything of its own.
 * Long work answers {taskId} as soon as its task exists and reports through `task` events.
 */
export interface AppServicesOptions {
  face?: 'electron' | 'web' | 'test';
  version?: string;
}

type Changed = EventPayload<'state.changed'>['what'];

function clusterInfo(c: ClusterConfig, current: string | undefined): ClusterInfo {
  return {
    name: c.name,
    nodes: c.nodes.map((n) => ({ name: n.name, address: n.address })),
    user: c.user,
    port: c.port,
    ...(c.keyFile ? { keyFile: c.keyFile } : {}),
    lab: c.lab,
    current: c.name === current,
  };
}

function labView(s: LabModuleStatus): LabStatus {
  return {
    up: s.state !== 'down',
    ...(s.state !== 'down' ? { cluster: 'lab' } : {}),
    ...(s.cores !== undefined ? { cores: s.cores } : {}),
    ...(s.memMb !== undefined ? { memMb: s.memMb } : {}),
    nodes: s.nodes.map((n) => ({
      name: n.name,
      address: n.address,
      // A node whose namespace is there but whose link or sshd is not has crashed (lab crash, or died).
      state: n.netns && n.link === 'up' && n.sshd ? 'up' as const : n.netns || n.link !== 'absent' ? 'crashed' as const : 'down' as const,
    })),
  };
}

function nodeView(n: InspectedNode, inUse: string | undefined): NodeInfo {
  const kvm = n.kvm?.state;
  return {
    name: n.node,
    address: n.address,
    state: n.reachable ? 'up' : 'down',
    // What placement may use is the declared capacity; fall back to what the node has.
    cores: n.declared?.cores ?? n.detected?.cores ?? 0,
    memMb: n.declared?.memMb ?? n.detected?.memMb ?? 0,
    services: kvm ? [{ name: kvm === 'usable' ? 'kvm' : 'tcg', state: 'running' }] : [],
    inUse: n.node === inUse,
    ...(n.error ? { error: n.error.message } : {}),
  };
}

/** Step names of the lab workflows, and which progress message of the lab module enters which. */
const LAB_UP_STEPS = ['network', 'nodes', 'database'];
const LAB_UP_STEP_OF: [RegExp, string][] = [[/^(bridge|namespaces)\b/, 'network'], [/^starting sshd|nodes answer/, 'nodes'], [/^database on /, 'database']];

/** An image on shared storage as the screens list it. */
function imageView(name: string, meta: NonNullable<Awaited<ReturnType<typeof listImages>>[number]['meta']>): ImageInfo {
  return {
    name,
    path: storagePaths().image(name).disk,
    format: 'qcow2',
    allocatedBytes: meta.sizes.qcow2 + (meta.sizes.kernel ?? 0) + (meta.sizes.initrd ?? 0),
    virtualBytes: meta.sizes.qcow2Virtual,
    kernel: meta.kind === 'kernel',
    createdAt: meta.createdAt,
  };
}

/** A task of the DB as the contract carries it (the runner's bookkeeping fields stay behind). */
function taskView(t: RunnerTaskSummary): TaskSummary {
  return {
    id: t.id, kind: t.kind, target: t.target, state: t.state, progress: t.progress,
    ...(t.currentStep ? { currentStep: t.currentStep } : {}),
    ...(t.error ? { error: { code: t.error.code, message: t.error.message, ...(t.error.step ? { step: t.error.step } : {}) } } : {}),
    startedAt: t.startedAt, ...(t.endedAt ? { endedAt: t.endedAt } : {}),
    ...(t.interrupted ? { interrupted: true } : {}),
    steps: t.steps.map((x) => ({ name: x.name, state: x.state, progress: x.progress, ...(x.note ? { note: x.note } : {}) })),
  };
}

const IMAGE_STEPS = ['build', 'publish'];
/** NOTIFY bursts (a VC start updates every VM row) become one refetch per screen. */
const COALESCE_MS = 250;

interface OpenCluster {
  name: string;
  session: SshClusterSession;
  terms: TerminalHub;
  /** Opened on first use: a cluster without a database still has nodes and consoles. */
  vc(): VcService;
  close(): Promise<void>;
}

export function createAppServices(opts: AppServicesOptions = {}): AppServices {
  const hub = new EventHub();
  const local = new LocalTasks((ev) => hub.emit('task', ev));

  // Tasks this process runs report on the in-process bus; the same ids arriving by NOTIFY are skipped.
  const ownTasks = new Set<string>();
  const offBus = taskBus.on('task', (ev) => {
    if (ev.type === 'task') {
      ownTasks.add(ev.task.id);
      hub.emit('task', { type: 'task', task: taskView(ev.task) });
    } else hub.emit('task', ev);
  });

  const pendingChanges = new Set<Changed>();
  let changeTimer: NodeJS.Timeout | undefined;
  const changedSoon = (what: Changed) => {
    pendingChanges.add(what);
    changeTimer ??= setTimeout(() => {
      changeTimer = undefined;
      const all = [...pendingChanges];
      pendingChanges.clear();
      for (const w of all) hub.emit('state.changed', { what: w });
    }, COALESCE_MS);
  };
  const changed = (...what: Changed[]) => { for (const w of what) hub.emit('state.changed', { what: w }); };

  // One SSH session (pooled connections) for the cluster in use, reopened when it changes.
  let open: OpenCluster | undefined;
  const cluster = (): OpenCluster => {
    const config = getCluster();
    if (open && open.name === config.name) return open;
    const old = open;
    open = undefined;
    if (old) void old.close();
    const session = openCluster(config);
    let service: VcService | undefined;
    let stopListening: Promise<(() => Promise<void>) | undefined> | undefined;
    const vc = (): VcService => {
      if (service) return service;
      service = new VcService(openVcEnv(config.name, { session }));
      stopListening = listenForOthers(service).catch(() => undefined);
      return service;
    };
    const terms = new TerminalHub(session, {
      // The DB's mapping breaks the tie while a migrating VM briefly has a serial socket on two nodes.
      vmNodeHint: async (vcName, vm) => {
        try { return await mappingHint(vc().env.db)(vcName, vm); } catch { return undefined; }
      },
    });
    const offData = terms.onData((sessionId, data) => hub.emit('terminal.data', { sessionId, data }));
    const offExit = terms.onExit((sessionId, exit) => hub.emit('terminal.exit', { sessionId, reason: exit.reason, lost: exit.lost, ...(exit.code !== undefined ? { code: exit.code } : {}) }));
    const opened: OpenCluster = {
      name: config.name, session, terms, vc,
      async close() {
        offData(); offExit();
        terms.closeAll();
        const stop = await stopListening;
        await stop?.().catch(() => undefined);
        // The session is this object's, not the VC service's: close the DB here and the session once.
        await service?.env.db.close().catch(() => undefined);
        await session.close();
      },
    };
    open = opened;
    return opened;
  };
  const terminals = () => {
    if (!open) throw new VlxError('not-found', 'no console is open');
    return open.terms;
  };
  const db = () => cluster().vc().env.db;

  /**
   * Other workstations (and `vlx` in a terminal) change the cluster too: their NOTIFYs
   * become the same events this process's own work emits.
   */
  async function listenForOthers(s: VcService): Promise<() => Promise<void>> {
    const fetching = new Set<string>();
    return s.env.db.listen('vlx_events', (payload) => {
      let p: { type?: string; id?: string };
      try { p = JSON.parse(payload) as typeof p; } catch { return; }
      if (p.type === 'vc') changedSoon('vcs');
      else if (p.type === 'node') changedSoon('nodes');
      else if (p.type === 'task' && p.id && !ownTasks.has(p.id) && !fetching.has(p.id)) {
        const id = p.id;
        fetching.add(id);
        setTimeout(() => {
          getTask(s.env.db, id, 0)
            .then((t) => { if (!ownTasks.has(id)) hub.emit('task', { type: 'task', task: taskView(t) }); })
            .catch(() => undefined)
            .finally(() => fetching.delete(id));
        }, COALESCE_MS);
      }
    });
  }

  /**
   * Start a VC workflow and answer with its id as soon as the task exists (its first event);
   * the rest is told by `task` events. A refusal before the task starts (bad input, the VC
   * locked by another task) is the call's error.
   */
  function startTask(run: (o: VcRunOptions) => Promise<RunnerTaskSummary>, after: Changed[]): Promise<{ taskId: string }> {
    return new Promise((resolve, reject) => {
      let id: string | undefined;
      const onEvent: VcRunOptions['onEvent'] = (e) => {
        if (id || e.type !== 'task') return;
        id = e.task.id;
        resolve({ taskId: id });
        changed('vcs');
      };
      // Step boundaries change VM states the screens show.
      let step: string | undefined;
      const follow: VcRunOptions['onEvent'] = (e) => {
        onEvent(e);
        if (e.type === 'task' && e.task.currentStep !== step) { step = e.task.currentStep; changedSoon('vcs'); }
      };
      run({ onEvent: follow }).then(
        (t) => { if (!id) resolve({ taskId: t.id }); changed(...after); },
        (e) => { if (!id) reject(e); else changed(...after); },
      );
    });
  }

  async function buildImage(kind: 'tiny' | 'debian-12', name: string): Promise<{ taskId: string }> {
    const conn = await cluster().session.any();
    return {
      taskId: local.start('image.build', name, IMAGE_STEPS, async (t) => {
        t.step('build');
        const log = (l: string) => t.log(l);
        let built: BuiltImage;
        if (kind === 'tiny') built = await buildTiny({ name, log });
        else {
          const { buildDebian } = await import('../images/debian.js');
          built = await buildDebian({ name, log });
        }
        t.step('publish');
        const r = await publishImage(conn, built, { log });
        t.log(`${name}: ${r.status === 'up-to-date' ? 'shared storage already up to date' : r.replaced ? 'replaced on shared storage' : 'on shared storage'}`);
        changed('images', 'volumes');
      }),
    };
  }

  const methods: ServiceMethods = {
    'app.info': async () => {
      const name = currentClusterName();
      const known = name ? listClusters().find((c) => c.name === name) : undefined;
      const o = open;
      return {
        version: opts.version ?? '0.1.0',
        face: opts.face ?? 'web',
        ...(name ? { cluster: name } : {}),
        ...(o && o.name === name && o.session.currentNode ? { nodeInUse: o.session.currentNode } : {}),
        ...(known?.lab ? { clusterNetwork: CLUSTER_NETWORK } : {}),
        home: appHome(),
      };
    },

    'clusters.list': async () => {
      const current = currentClusterName();
      return { ...(current ? { current } : {}), clusters: listClusters().map((c) => clusterInfo(c, current)) };
    },
    'clusters.add': async (input) => {
      const exists = listClusters().some((c) => c.name === input.name);
      if (exists) throw new VlxError('conflict', `cluster "${input.name}" is already known`, 'pick another name or remove the old one first');
      // The first node must already be trusted: the Connect screen shows its fingerprint and accepts it first.
      const probe = await probeHostKey(input.address, input.port);
      if (probe.known !== 'match') {
        throw new VlxError(probe.known === 'changed' ? 'host-key-changed' : 'host-key-unknown',
          `${input.address}:${input.port} presents ${probe.keyType} ${probe.fingerprint}, which is not accepted yet`,
          'confirm the fingerprint first');
      }
      // As `vlx cluster add` does: nothing is saved unless that node answers and lets us in.
      const learned = await firstContact(input.address, { user: input.user, port: input.port, ...(input.keyFile ? { keyFile: input.keyFile } : {}) });
      const config: ClusterConfig = {
        name: input.name,
        nodes: learned.nodes,
        user: input.user,
        port: input.port,
        ...(input.keyFile ? { keyFile: input.keyFile } : {}),
        lab: false,
      };
      putCluster(config, true);
      changed('clusters');
      return clusterInfo(getCluster(input.name), input.name);
    },
    'clusters.use': async ({ name }) => {
      useCluster(name);
      changed('clusters');
      return {};
    },
    'clusters.remove': async ({ name }) => {
      getCluster(name);
      removeCluster(name);
      changed('clusters');
      return {};
    },

    'hostKey.probe': async ({ address, port }) => {
      const p = await probeHostKey(address, port);
      return { address, port, keyType: p.keyType, fingerprint: p.fingerprint, status: p.known === 'match' ? 'known' : p.known === 'unknown' ? 'new' : 'changed' };
    },
    'hostKey.accept': async ({ address, port, fingerprint }) => {
      await acceptHostKey(address, port, fingerprint);
      return {};
    },

    'lab.up': async ({ nodes, cores, memMb }) => ({
      taskId: local.start('lab.up', `${nodes} nodes`, LAB_UP_STEPS, async (t) => {
        t.step('network');
        await startLab({ nodes, cores, memMb }, (msg) => {
          const step = LAB_UP_STEP_OF.find(([re]) => re.test(msg))?.[1];
          if (step) t.step(step, msg);
          t.log(msg);
        });
        changed('lab', 'clusters', 'nodes');
      }),
    }),
    'lab.status': async () => labView(await labStatus()),
    'lab.down': async () => ({
      taskId: local.start('lab.down', 'lab', ['remove'], async (t) => {
        t.step('remove');
        if (open?.name === 'lab') { const o = open; open = undefined; await o.close(); }
        await labDown({}, (msg) => t.log(msg));
        changed('lab', 'clusters');
      }),
    }),
    'lab.crash': async ({ node }) => {
      await labCrash(node);
      changed('lab', 'nodes');
      return {};
    },
    'lab.revive': async ({ node }) => {
      await reviveLabNode(node);
      changed('lab', 'nodes');
      return {};
    },

    'nodes.list': async () => {
      const c = cluster();
      const found = await inspectNodes(c.session);
      // Choosing the node in use needs a live connection; inspection has just made them.
      await c.session.any().catch(() => undefined);
      return found.map((n) => nodeView(n, c.session.currentNode));
    },
    'exec.run': async ({ nodes, command }) => {
      const results = await cluster().session.onNodes(nodes, command, { timeoutMs: 60_000 });
      return results.map((r) => ({ node: r.node, code: r.code, stdout: r.stdout, stderr: r.stderr, ms: r.ms, ...(r.error ? { error: { code: r.error.code, message: r.error.message } } : {}) }));
    },

    // The cluster DB's tasks and this process's local ones (the lab, image builds), newest first.
    'tasks.list': async ({ limit }) => {
      const n = limit ?? 100;
      let stored: TaskSummary[] = [];
      if (currentClusterName() && getCluster().db) stored = (await listTasks(db(), { limit: n })).map(taskView);
      return [...local.list(), ...stored].sort((a, b) => b.startedAt.localeCompare(a.startedAt)).slice(0, n);
    },
    'tasks.get': async ({ id }) => {
      const t = local.get(id);
      if (t) return t;
      if (id.startsWith('local-')) throw new VlxError('not-found', `task ${id} is not known`, 'local tasks are forgotten when the app exits');
      const d = await getTask(db(), id, 200);
      return { task: taskView(d), log: d.log.map((l) => ({ at: l.at, line: l.line })) };
    },
    'tasks.cancel': async ({ id }) => {
      if (local.cancel(id)) return {};
      if (id.startsWith('local-')) throw new VlxError('not-found', `task ${id} is not known`);
      await cancelTask(db(), id);
      return {};
    },

    'images.list': async () => {
      const entries = await listImages(await cluster().session.any());
      return entries.flatMap((e) => (e.meta ? [imageView(e.name, e.meta)] : []));
    },
    'images.build': async ({ kind, name }) => buildImage(kind, name ?? kind),

    'vc.list': async () => cluster().vc().listVcs(),
    'vc.get': async ({ name }) => {
      const s = await cluster().vc().vcStatus(name);
      return { ...s, tasks: s.tasks.map(taskView) };
    },
    'vc.create': async (spec) => { const s = cluster().vc(); return startTask((o) => s.createVc(spec, o), ['vcs', 'volumes']); },
    'vc.start': async ({ name, policy, mode }) => { const s = cluster().vc(); return startTask((o) => s.startVc(name, policy, mode, o), ['vcs', 'nodes']); },
    'vc.stop': async ({ name }) => { const s = cluster().vc(); return startTask((o) => s.stopVc(name, {}, o), ['vcs', 'nodes']); },
    'vc.save': async ({ name }) => { const s = cluster().vc(); return startTask((o) => s.saveVc(name, o), ['vcs', 'nodes', 'volumes']); },
    'vc.restore': async ({ name, policy, mode }) => { const s = cluster().vc(); return startTask((o) => s.restoreVc(name, policy, mode, o), ['vcs', 'nodes']); },
    'vc.destroy': async ({ name }) => { const s = cluster().vc(); return startTask((o) => s.destroyVc(name, o), ['vcs', 'nodes', 'volumes']); },
    'vc.previewPlacement': async ({ name, nodes, vcpus, memMb, policy, mode }) => {
      const env = cluster().vc().env;
      const live = await placementNodes(env, env.db, name);
      const vms = Array.from({ length: nodes }, (_, i) => ({ name: vmName(i + 1), vcpus, memMb }));
      const p = previewPlacement(vms, live, policy, mode);
      return p.ok
        ? { placeable: true, mapping: vms.map((v) => ({ vm: v.name, node: p.mapping[v.name]! })) }
        : { placeable: false, mapping: [], reason: p.error };
    },

    /**
     * One result per VM. Moves of one VC take that VC's lock one after another; different
     * VCs move in parallel. Answers once every VM's task has started or it was refused.
     */
    'vm.move': async ({ vms, to }) => {
      const s = cluster().vc();
      const byVc = new Map<string, number[]>();
      vms.forEach((r, i) => byVc.set(r.vc, [...(byVc.get(r.vc) ?? []), i]));
      const results: Output<'vm.move'> = new Array(vms.length);
      const started: Promise<void>[] = [];
      for (const idxs of byVc.values()) {
        let chain = Promise.resolve();
        for (const i of idxs) {
          const r = vms[i]!;
          let markStarted!: () => void;
          started.push(new Promise<void>((ok) => { markStarted = ok; }));
          chain = chain.then(() => new Promise<void>((ended) => {
            let id: string | undefined;
            const onEvent: VcRunOptions['onEvent'] = (e) => {
              if (id || e.type !== 'task') return;
              id = e.task.id;
              results[i] = { vc: r.vc, vm: r.vm, ok: true, taskId: id };
              changed('vcs');
              markStarted();
            };
            s.moveVms([{ vc: r.vc, vm: r.vm, to }], { onEvent }).then(([res]) => {
              // The service's own answer: a refusal before any task existed, or how the task ended.
              results[i] = res!;
              changed('vcs', 'nodes');
            }, (e: unknown) => {
              const err = e instanceof VlxError ? e : new VlxError('internal', String(e));
              results[i] = { vc: r.vc, vm: r.vm, ok: false, error: { code: err.code, message: err.message } };
            }).finally(() => { markStarted(); ended(); });
          }));
        }
      }
      await Promise.all(started);
      return [...results];
    },

    'volumes.tree': async () => cluster().vc().volumesTree(),
    // The tree marks what may be reset or deleted; VcService marks nothing yet, so nothing is.
    'volumes.reset': async ({ path }) => {
      throw new VlxError('conflict', `${path} cannot be reset from here`, 'a VM disk is reset by destroying and re-creating its VC; VcService offers no single-volume reset yet');
    },
    'volumes.delete': async ({ path }) => {
      throw new VlxError('conflict', `${path} cannot be deleted from here`, 'volumes go with their VC (destroy it) or image; VcService offers no single-volume delete yet');
    },

    'terminal.openNodeShell': async ({ node, rows, cols }) => {
      const r = await cluster().terms.open({ node }, { rows, cols });
      return { sessionId: r.id, title: r.title };
    },
    'terminal.openVmConsole': async ({ vc, vm, rows, cols }) => {
      const r = await cluster().terms.open({ vc, vm }, { rows, cols });
      return { sessionId: r.id, title: r.title };
    },
    'terminal.write': async ({ sessionId, data }) => { terminals().write(sessionId, data); return {}; },
    'terminal.resize': async ({ sessionId, rows, cols }) => { terminals().resize(sessionId, rows, cols); return {}; },
    'terminal.reconnect': async ({ sessionId }) => { await terminals().reconnect(sessionId); return {}; },
    'terminal.close': async ({ sessionId }) => { terminals().close(sessionId); return {}; },
  };

  return {
    methods,
    events: hub,
    async close() {
      // Tasks are left alone: DB tasks resume on the next run; local lab work is idempotent.
      offBus();
      if (changeTimer) clearTimeout(changeTimer);
      const o = open;
      open = undefined;
      await o?.close();
    },
  };
}
