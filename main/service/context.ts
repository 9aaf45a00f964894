import { VlxError } from '../errors.js';
import { getCluster, type ClusterConfig } from '../config/clusters.js';
import type { SshClusterSession } from '../ssh/session.js';
import { openClusterSession } from '../cluster/session.js';
import { EventHub } from '../api/events.js';
import type { EventPayload } from '../api/contract.js';
import type { TaskEvent, TaskSummary as RunnerTaskSummary } from '../tasks/types.js';
import { LocalTasks } from './localTasks.js';
import { taskView } from './views.js';
import type { VcService, VcRunOptions } from './vcCore.js';
import type { TerminalHub } from '../consoles/terminals.js';
import type { HealthLoop } from '../health/loop.js';

/**
 * What every domain module of the service layer shares within one process: the event hub
 * every face listens to, the tasks that run here without the database (lab, image builds),
 * and one SSH session (pooled connections) for the cluster in use, reopened when the current
 * cluster changes. The database, the VC service and the terminals are opened on first use
 * and loaded lazily, so a CLI command that needs none of them does not pay for them.
 */
export interface ServiceOptions {
  face?: 'electron' | 'web' | 'test' | 'cli';
  version?: string;
}

export type Changed = EventPayload<'state.changed'>['what'];

/** NOTIFY bursts (a VC start updates every VM row) become one refetch per screen. */
const COALESCE_MS = 250;

export interface OpenCluster {
  name: string;
  config: ClusterConfig;
  session: SshClusterSession;
  /** Opened on first use: a cluster without a database still has nodes and consoles. */
  vc(): Promise<VcService>;
  terms(): Promise<TerminalHub>;
  /** The node health loop of this cluster (main/health/loop.ts), made on first use; it runs while a face listens. */
  health(): Promise<HealthLoop>;
  close(): Promise<void>;
}

export class ServiceContext {
  readonly hub = new EventHub();
  readonly local = new LocalTasks((ev) => this.hub.emit('task', ev));
  /** Tasks this process runs: the same ids arriving by NOTIFY are not fetched again. */
  readonly ownTasks = new Set<string>();
  private open: OpenCluster | undefined;
  private pending = new Set<Changed>();
  private changeTimer: NodeJS.Timeout | undefined;

  constructor(readonly opts: ServiceOptions = {}) {}

  /** Every task event of a workflow run in this process reaches every face through here. */
  readonly onTaskEvent = (ev: TaskEvent): void => {
    if (ev.type === 'task') {
      this.ownTasks.add(ev.task.id);
      this.hub.emit('task', { type: 'task', task: taskView(ev.task) });
    } else this.hub.emit('task', ev);
  };

  changed(...what: Changed[]): void {
    for (const w of what) this.hub.emit('state.changed', { what: w });
  }

  changedSoon(what: Changed): void {
    this.pending.add(what);
    this.changeTimer ??= setTimeout(() => {
      this.changeTimer = undefined;
      const all = [...this.pending];
      this.pending.clear();
      for (const w of all) this.hub.emit('state.changed', { what: w });
    }, COALESCE_MS);
  }

  /** The session of the current cluster (VLX_CLUSTER or the stored current one). */
  cluster(): OpenCluster {
    const config = getCluster();
    if (this.open && this.open.name === config.name) return this.open;
    const old = this.open;
    this.open = undefined;
    if (old) void old.close();
    this.open = this.openCluster(config);
    return this.open;
  }

  /** The open cluster, if any, without opening one (closing the lab, app.info). */
  peek(): OpenCluster | undefined {
    return this.open;
  }

  async closeCluster(name?: string): Promise<void> {
    const o = this.open;
    if (!o || (name !== undefined && o.name !== name)) return;
    this.open = undefined;
    await o.close();
  }

  private openCluster(config: ClusterConfig): OpenCluster {
    const session = openClusterSession(config);
    let service: Promise<VcService> | undefined;
    let hub: Promise<TerminalHub> | undefined;
    let stopListening: Promise<(() => Promise<void>) | undefined> | undefined;
    const offs: (() => void)[] = [];
    const vc = (): Promise<VcService> => {
      service ??= (async () => {
        const [{ VcService }, { openVcEnv }] = await Promise.all([import('./vcCore.js'), import('../cluster/env.js')]);
        const s = new VcService(openVcEnv(config.name, { session }), this.onTaskEvent);
        stopListening = import('./notify.js').then((m) => m.listenForOthers(this, s.env.db)).catch(() => undefined);
        return s;
      })();
      return service;
    };
    const terms = (): Promise<TerminalHub> => {
      hub ??= (async () => {
        const [{ TerminalHub }, { mappingHint }] = await Promise.all([import('../consoles/terminals.js'), import('../consoles/mappingHint.js')]);
        const t = new TerminalHub(session, {
          // The DB's mapping breaks the tie while a migrating VM briefly has a serial socket on two nodes.
          vmNodeHint: async (vcName, vm) => {
            try { return await mappingHint((await vc()).env.db)(vcName, vm); } catch { return undefined; }
          },
        });
        offs.push(t.onData((sessionId, data) => this.hub.emit('terminal.data', { sessionId, data })));
        offs.push(t.onExit((sessionId, exit) => this.hub.emit('terminal.exit', { sessionId, reason: exit.reason, lost: exit.lost, ...(exit.code !== undefined ? { code: exit.code } : {}) })));
        return t;
      })();
      return hub;
    };
    let loop: Promise<HealthLoop> | undefined;
    const health = (): Promise<HealthLoop> => {
      loop ??= Promise.all([import('../health/loop.js'), import('../ha/restarter.js'), import('../tasks/runner.js')]).then(([{ HealthLoop, LEASE_FILE }, { HaRestarter }, { runWorkflow }]) => {
        // Whichever workstation's loop sees a node confirmed down first restarts its HA VMs (the claim decides).
        const ha = new HaRestarter(async () => (await vc()).env, async (def) => {
          const t = await runWorkflow((await vc()).env.db, def, { onEvent: this.onTaskEvent });
          this.changed('vcs', 'nodes');
          return t;
        });
        return new HealthLoop(
          session,
          async () => (await vc()).env.db,
          (views) => { this.hub.emit('nodes.health', { nodes: views }); this.changed('nodes', 'vcs'); },
          // A CLI that asked once and left has no listener: the loop stops by itself.
          () => this.hub.size > 0,
          LEASE_FILE,
          (down, up) => { void ha.onDown(down, up); },
        );
      });
      return loop;
    };
    return {
      name: config.name, config, session, vc, terms, health,
      close: async () => {
        (await loop?.catch(() => undefined))?.stop();
        for (const off of offs) off();
        const t = await hub?.catch(() => undefined);
        t?.closeAll();
        const stop = await stopListening;
        await stop?.().catch(() => undefined);
        // The session is this object's, not the VC service's: close the DB here and the session once.
        const s = await service?.catch(() => undefined);
        await s?.env.db.close().catch(() => undefined);
        await session.close();
      },
    };
  }

  /**
   * Start a VC workflow and answer with its id as soon as the task exists (its first event);
   * the rest is told by `task` events. A refusal before the task starts (bad input, the VC
   * locked by another task) is the call's error.
   */
  startTask(run: (o: VcRunOptions) => Promise<RunnerTaskSummary>, after: Changed[]): Promise<{ taskId: string }> {
    return new Promise((resolve, reject) => {
      let id: string | undefined;
      let step: string | undefined;
      const onEvent: VcRunOptions['onEvent'] = (e) => {
        if (e.type !== 'task') return;
        if (!id) {
          id = e.task.id;
          resolve({ taskId: id });
          this.changed('vcs');
        }
        // Step boundaries change VM states the screens show.
        if (e.task.currentStep !== step) { step = e.task.currentStep; this.changedSoon('vcs'); }
      };
      run({ onEvent }).then(
        (t) => { if (!id) resolve({ taskId: t.id }); this.changed(...after); },
        (e: unknown) => { if (!id) reject(e); else this.changed(...after); },
      );
    });
  }

  async close(): Promise<void> {
    // Tasks are left alone: DB tasks resume on the next run; local lab work is idempotent.
    if (this.changeTimer) clearTimeout(this.changeTimer);
    const o = this.open;
    this.open = undefined;
    await o?.close();
  }
}

/** A terminal call with no console open is a clear "not found", not a crash. */
export function noTerminals(): VlxError {
  return new VlxError('not-found', 'no console is open');
}
