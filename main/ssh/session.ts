import { VlxError, asVlxError, type ErrorCode } from '../errors.js';
import type { ClusterConfig } from '../config/clusters.js';
import { checkName } from '../util/names.js';
import type { ExecOptions, ExecResult, NodeConn, NodeRef } from './types.js';
import type { ClusterSession, NodeExecResult } from './session.types.js';
import { NodeConnection, notStarted, type ConnectOptions } from './connection.js';

export interface SessionOptions extends Partial<Omit<ConnectOptions, 'user' | 'port' | 'keyFile'>> {
  /** TCP deadline per node when looking for any live node. */
  raceDeadlineMs?: number;
  /** Head start each node gets before the next one is tried too. */
  raceStaggerMs?: number;
  /**
   * Told the node that answered, each time it changes (the cluster layer remembers it in the
   * cluster store; this layer never writes the app's configuration).
   */
  onNodeUsed?: (node: string) => void;
}

/** Which failure to show when every node failed: the one a person must act on comes first. */
const SEVERITY: ErrorCode[] = ['host-key-changed', 'host-key-unknown', 'auth-failed', 'not-found', 'timeout', 'unreachable'];

export function pickError(cluster: string, failures: { node: NodeRef; error: VlxError }[]): VlxError {
  if (failures.length === 0) return new VlxError('unreachable', `cluster ${cluster} has no nodes`, 'add one with `vlx cluster add`');
  const rank = (e: VlxError) => {
    const i = SEVERITY.indexOf(e.code);
    return i < 0 ? SEVERITY.length : i;
  };
  const worst = [...failures].sort((a, b) => rank(a.error) - rank(b.error))[0];
  if (worst.error.code !== 'unreachable' && worst.error.code !== 'timeout') return worst.error;
  const each = failures.map((f) => `  ${f.error.message}`).join('\n');
  return new VlxError(
    'unreachable',
    `no node of cluster ${cluster} answered:\n${each}`,
    'check that the nodes are up and reachable from this machine',
    { nodes: failures.map((f) => f.node.name) },
  );
}

/**
 * pickError over per-node results (what onNodes returns, and what is built from it): the
 * error for a command that needs at least one node and got none. Every node's reason is
 * listed, none promoted: onNodes keeps a failure's code and message but not its hint, so
 * one node's auth or host-key error shown alone would lose what to do about it.
 */
export function noNodeAnswered(cluster: string, results: readonly { node: string; address: string; error?: { code?: string; message: string } }[]): VlxError {
  const listed = pickError(cluster, results.map((r) => ({
    node: { name: r.node, address: r.address },
    error: new VlxError('unreachable', r.error?.message ?? r.node),
  })));
  // The list keeps every reason; the code is the one a person must act on first (a changed host key exits 6, not 5).
  const codes = results.map((r) => r.error?.code).filter((c): c is ErrorCode => typeof c === 'string' && (SEVERITY as string[]).includes(c));
  const worst = [...codes].sort((a, b) => SEVERITY.indexOf(a) - SEVERITY.indexOf(b))[0];
  return worst && worst !== 'unreachable' && worst !== 'timeout' && worst !== 'not-found'
    ? new VlxError(worst, listed.message, 'a node refused us: check its host key (ssh-keygen -lf on the node) or the login key', listed.details)
    : listed;
}

export class SshClusterSession implements ClusterSession {
  private readonly conns = new Map<string, NodeConnection>();
  private readonly refs: NodeRef[];
  private current?: string;
  private racing?: Promise<NodeConnection>;
  private readonly raceDeadlineMs: number;
  private readonly raceStaggerMs: number;

  constructor(readonly config: ClusterConfig, private readonly opts: SessionOptions = {}) {
    this.refs = config.nodes.map((n) => ({ name: checkName('node', n.name, 'node name'), address: n.address }));
    this.raceDeadlineMs = opts.raceDeadlineMs ?? 1500;
    this.raceStaggerMs = opts.raceStaggerMs ?? 250;
    if (config.lastNode && this.refs.some((r) => r.name === config.lastNode)) this.current = config.lastNode;
  }

  nodes(): NodeRef[] {
    return this.refs.map((r) => ({ ...r }));
  }

  addNodes(nodes: NodeRef[]): string[] {
    const added: string[] = [];
    for (const n of nodes) {
      if (this.refs.some((r) => r.name === n.name)) continue;
      this.refs.push({ name: checkName('node', n.name, 'node name'), address: n.address });
      added.push(n.name);
    }
    return added;
  }

  /** The node `any()` would use now, if one is chosen. */
  get currentNode(): string | undefined {
    return this.current;
  }

  private ref(name: string): NodeRef {
    checkName('node', name, 'node');
    const r = this.refs.find((n) => n.name === name);
    if (!r) {
      throw new VlxError('not-found', `cluster ${this.config.name} has no node "${name}"`, `its nodes: ${this.refs.map((n) => n.name).join(', ')}`);
    }
    return r;
  }

  private conn(ref: NodeRef): NodeConnection {
    let c = this.conns.get(ref.name);
    if (!c) {
      const { raceDeadlineMs: _d, raceStaggerMs: _s, onNodeUsed: _p, ...connOpts } = this.opts;
      c = new NodeConnection(ref, {
        connectTimeoutMs: 3000,
        ...connOpts,
        user: this.config.user,
        port: this.config.port,
        keyFile: this.config.keyFile,
      });
      this.conns.set(ref.name, c);
    }
    return c;
  }

  async any(): Promise<NodeConn> {
    const cur = this.current ? this.conns.get(this.current) : undefined;
    if (cur?.connected) return cur;
    this.racing ??= this.race().finally(() => {
      this.racing = undefined;
    });
    return this.racing;
  }

  /**
   * Happy-eyeballs over the nodes: the last node used starts first, each next one a little
   * later or as soon as every earlier one has failed; the first ready connection wins. The
   * losers stay in the pool (onNodes reuses them).
   */
  private race(): Promise<NodeConnection> {
    const order = [...this.refs].sort((a, b) => Number(b.name === this.current) - Number(a.name === this.current));
    return new Promise<NodeConnection>((resolve, reject) => {
      const failures: { node: NodeRef; error: VlxError }[] = [];
      let next = 0;
      let running = 0;
      let won = false;
      let timer: NodeJS.Timeout | undefined;
      const launch = () => {
        clearTimeout(timer);
        if (won || next >= order.length) return;
        const ref = order[next++];
        running++;
        const c = this.conn(ref);
        c.connect(this.raceDeadlineMs).then(
          () => {
            running--;
            if (won) return;
            won = true;
            clearTimeout(timer);
            this.choose(ref.name);
            resolve(c);
          },
          (e) => {
            running--;
            failures.push({ node: ref, error: asVlxError(e) });
            if (won) return;
            if (next < order.length) launch();
            else if (running === 0) reject(pickError(this.config.name, failures));
          },
        );
        if (next < order.length) timer = setTimeout(launch, this.raceStaggerMs);
      };
      if (order.length === 0) reject(pickError(this.config.name, []));
      else launch();
    });
  }

  private choose(name: string): void {
    if (this.current === name) return;
    this.current = name;
    try {
      this.opts.onNodeUsed?.(name);
    } catch {
      // Remembering is an optimisation; a read-only config must not fail the command.
    }
  }

  /**
   * Run one command on any live node. If the node dies before the command starts, the
   * next live node runs it; once started, a failure is reported, never silently retried.
   */
  async execAny(command: string, opts: ExecOptions = {}): Promise<ExecResult & { node: string; address: string }> {
    const tried = new Set<string>();
    for (;;) {
      const c = await this.any();
      try {
        const r = await c.exec(command, opts);
        return { ...r, node: c.name, address: c.address };
      } catch (e) {
        if (!notStarted(e) || tried.has(c.name) || tried.size >= this.refs.length) throw e;
        tried.add(c.name);
      }
    }
  }

  async node(name: string): Promise<NodeConn> {
    const c = this.conn(this.ref(name));
    await c.connect();
    return c;
  }

  async onNodes(names: string[] | 'all', command: string, opts: ExecOptions = {}): Promise<NodeExecResult[]> {
    const refs = names === 'all' ? this.refs : [...new Set(names)].map((n) => this.ref(n));
    return Promise.all(
      refs.map(async (ref): Promise<NodeExecResult> => {
        const started = performance.now();
        try {
          const c = this.conn(ref);
          await c.connect(this.raceDeadlineMs);
          const r = await c.exec(command, opts);
          return { node: ref.name, address: ref.address, ...r, ms: performance.now() - started };
        } catch (e) {
          const err = asVlxError(e);
          return {
            node: ref.name,
            address: ref.address,
            code: -1,
            stdout: '',
            stderr: '',
            error: { code: err.code, message: err.message },
            ms: performance.now() - started,
          };
        }
      }),
    );
  }

  async close(): Promise<void> {
    const all = [...this.conns.values()];
    this.conns.clear();
    await Promise.all(all.map((c) => c.close()));
  }
}

/**
 * fn on the node in use; should that node prove dead under it (it crashed since its last
 * answer), fn runs again on the next live node. For reads and idempotent steps only.
 */
export async function withAnyNode<T>(session: Pick<ClusterSession, 'any' | 'nodes'>, fn: (conn: NodeConn) => Promise<T>): Promise<T> {
  for (let tries = 1; ; tries++) {
    const conn = await session.any();
    try {
      return await fn(conn);
    } catch (e) {
      if (!(e instanceof VlxError && e.code === 'unreachable') || tries >= session.nodes().length) throw e;
    }
  }
}

export function openCluster(config: ClusterConfig, opts: SessionOptions = {}): SshClusterSession {
  return new SshClusterSession(config, opts);
}
