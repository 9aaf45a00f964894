import { VlxError } from '../errors.js';
import { appHome, SHARED_ROOT } from '../config/paths.js';
import { currentClusterName, getCluster, listClusters, putCluster, removeCluster, useCluster, type ClusterConfig } from '../config/clusters.js';
import { acceptHostKey, probeHostKey } from '../ssh/hostKeys.js';
import { NodeConnection } from '../ssh/connection.js';
import { quote } from '../util/quote.js';
// Reused so both faces learn a cluster's nodes the same way (it would sit better in a main/ module).
import { nodesFromFirstContact } from '../cli/cluster.js';
import { EventHub } from '../api/events.js';
import { CLUSTER_NETWORK } from '../lab/layout.js';
import { labCrash, labDown, labStatus, type LabStatus as LabModuleStatus } from '../lab/index.js';
import { reviveLabNode, startLab } from './lab.js';
import { openCluster, type SshClusterSession } from '../ssh/session.js';
import { inspectNodes, type NodeInfo as InspectedNode } from '../nodes/inspect.js';
import { TerminalHub } from '../consoles/terminals.js';
import { LocalTasks } from './localTasks.js';
import type { AppServices, ServiceMethods } from '../api/services.js';
import type { ClusterInfo, LabStatus, NodeInfo } from '../api/contract.js';

/**
 * The real services behind every face of the app. Each method delegates to the module that
 * owns the work; a module not written yet answers 'not available yet' instead of anything
 * made up, so the screens show the honest state.
 */
export interface AppServicesOptions {
  face?: 'electron' | 'web' | 'test';
  version?: string;
}

/** Must match the marker `vlx cluster add` splits hostname and manifest with (main/cli/cluster.ts). */
const FIRST_CONTACT_MARK = '--vlx-manifest--';

const notYet = (what: string) => async (): Promise<never> => {
  throw new VlxError('internal', `not available yet: ${what}`, 'this part of the app is being built');
};

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

export function createAppServices(opts: AppServicesOptions = {}): AppServices {
  const hub = new EventHub();
  const local = new LocalTasks((ev) => hub.emit('task', ev));

  // One SSH session (pooled connections) for the cluster in use, reopened when it changes.
  let open: { name: string; session: SshClusterSession; terms: TerminalHub; off: () => void } | undefined;
  const cluster = () => {
    const config = getCluster();
    if (open && open.name === config.name) return open;
    const old = open;
    open = undefined;
    if (old) { old.off(); old.terms.closeAll(); void old.session.close(); }
    const session = openCluster(config);
    const terms = new TerminalHub(session);
    const offData = terms.onData((sessionId, data) => hub.emit('terminal.data', { sessionId, data }));
    const offExit = terms.onExit((sessionId, exit) => hub.emit('terminal.exit', { sessionId, reason: exit.reason, lost: exit.lost, ...(exit.code !== undefined ? { code: exit.code } : {}) }));
    open = { name: config.name, session, terms, off: () => { offData(); offExit(); } };
    return open;
  };
  const terminals = () => {
    if (!open) throw new VlxError('not-found', 'no console is open');
    return open.terms;
  };

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
      // Log in to that node and learn the cluster's nodes from its manifest (or its hostname
      // alone), as `vlx cluster add` does: nothing is saved unless it answers and lets us in.
      const first = new NodeConnection({ name: 'first', address: input.address }, {
        user: input.user, port: input.port, connectTimeoutMs: 5000, ...(input.keyFile ? { keyFile: input.keyFile } : {}),
      });
      let learned: ReturnType<typeof nodesFromFirstContact>;
      try {
        const out = await first.run(`hostname; echo ${quote(FIRST_CONTACT_MARK)}; cat ${quote(`${SHARED_ROOT}/manifest.json`)} 2>/dev/null || true`, { timeoutMs: 20_000 });
        learned = nodesFromFirstContact(input.address, out);
      } finally {
        await first.close();
      }
      const config: ClusterConfig = {
        name: input.name,
        nodes: learned.nodes,
        user: input.user,
        port: input.port,
        ...(input.keyFile ? { keyFile: input.keyFile } : {}),
        lab: false,
      };
      putCluster(config, true);
      hub.emit('state.changed', { what: 'clusters' });
      return clusterInfo(getCluster(input.name), input.name);
    },
    'clusters.use': async ({ name }) => {
      useCluster(name);
      hub.emit('state.changed', { what: 'clusters' });
      return {};
    },
    'clusters.remove': async ({ name }) => {
      getCluster(name);
      removeCluster(name);
      hub.emit('state.changed', { what: 'clusters' });
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
        hub.emit('state.changed', { what: 'lab' });
        hub.emit('state.changed', { what: 'clusters' });
      }),
    }),
    'lab.status': async () => labView(await labStatus()),
    'lab.down': async () => ({
      taskId: local.start('lab.down', 'lab', ['remove'], async (t) => {
        t.step('remove');
        if (open?.name === 'lab') { open.off(); open.terms.closeAll(); await open.session.close(); open = undefined; }
        await labDown({}, (msg) => t.log(msg));
        hub.emit('state.changed', { what: 'lab' });
        hub.emit('state.changed', { what: 'clusters' });
      }),
    }),
    'lab.crash': async ({ node }) => {
      await labCrash(node);
      hub.emit('state.changed', { what: 'lab' });
      hub.emit('state.changed', { what: 'nodes' });
      return {};
    },
    'lab.revive': async ({ node }) => {
      await reviveLabNode(node);
      hub.emit('state.changed', { what: 'lab' });
      hub.emit('state.changed', { what: 'nodes' });
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

    // Local tasks (the lab) are here; tasks recorded in the cluster DB are the lead's to merge in.
    'tasks.list': async ({ limit }) => local.list().slice(0, limit ?? 100),
    'tasks.get': async ({ id }) => {
      const t = local.get(id);
      if (!t) throw new VlxError('not-found', `task ${id} is not known`);
      return t;
    },
    'tasks.cancel': async ({ id }) => {
      if (!local.cancel(id)) throw new VlxError('not-found', `task ${id} is not known`);
      return {};
    },

    'images.list': notYet('OS images (main/images)'),
    'images.build': notYet('OS images (main/images)'),

    'vc.list': notYet('virtual clusters (main/vc)'),
    'vc.get': notYet('virtual clusters (main/vc)'),
    'vc.create': notYet('virtual clusters (main/vc)'),
    'vc.start': notYet('virtual clusters (main/vc)'),
    'vc.stop': notYet('virtual clusters (main/vc)'),
    'vc.save': notYet('virtual clusters (main/vc)'),
    'vc.restore': notYet('virtual clusters (main/vc)'),
    'vc.destroy': notYet('virtual clusters (main/vc)'),
    'vc.previewPlacement': notYet('placement (main/placement)'),
    'vm.move': notYet('VM remap (main/vc)'),

    'volumes.tree': notYet('volumes (main/storage)'),
    'volumes.reset': notYet('volumes (main/storage)'),
    'volumes.delete': notYet('volumes (main/storage)'),

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
    'terminal.close': async ({ sessionId }) => { terminals().close(sessionId); return {}; },
  };

  return {
    methods,
    events: hub,
    async close() {
      // Tasks are left alone: DB tasks resume on the next run; local lab work is idempotent.
      const o = open;
      open = undefined;
      if (o) { o.off(); o.terms.closeAll(); await o.session.close(); }
    },
  };
}
