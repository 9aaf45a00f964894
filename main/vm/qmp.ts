import { EventEmitter } from 'node:events';
import type { Duplex } from 'node:stream';
import { VlxError, invalid } from '../errors.js';
import { checkPath } from './qemuArgs.js';
import type { NodeConn } from '../ssh/types.js';

/**
 * A QMP client over any byte stream: a local unix socket in tests, an SSH stream-local
 * channel to the node's socket in the app. QMP is newline-delimited JSON: a greeting,
 * then `qmp_capabilities`, then commands answered in order, interleaved with events.
 */
export interface QmpEvent {
  event: string;
  data?: Record<string, unknown>;
  timestamp?: { seconds: number; microseconds: number };
}

export interface QmpGreeting {
  version: { qemu: { major: number; minor: number; micro: number }; package: string };
  capabilities: string[];
}

interface Pending {
  command: string;
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  timer?: NodeJS.Timeout;
}

export interface QmpOptions {
  /** Default deadline for one command; a migration waits through status polling, not one long command. */
  timeoutMs?: number;
  /** Label used in error messages, e.g. "n2/web-1". */
  label?: string;
}

export class QmpClient extends EventEmitter<{ event: [QmpEvent]; close: [Error | undefined] }> {
  private buf = '';
  private nextId = 1;
  private readonly pending = new Map<string, Pending>();
  private closed: Error | undefined;
  private greetingWaiter: { resolve: (g: QmpGreeting) => void; reject: (e: Error) => void } | undefined;
  private readonly timeoutMs: number;
  readonly label: string;

  private constructor(private readonly stream: Duplex, opts: QmpOptions) {
    super();
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.label = opts.label ?? 'qmp';
    stream.setEncoding?.('utf8');
    stream.on('data', (chunk: string | Buffer) => this.onData(String(chunk)));
    stream.on('error', (e: NodeJS.ErrnoException) => {
      // A QEMU that quits may reset the socket instead of closing it: the same end for us.
      const closed = e.code === 'ECONNRESET' || e.code === 'EPIPE';
      this.fail(new VlxError('remote-failed', closed ? `${this.label}: QMP connection closed (${e.code})` : `${this.label}: QMP connection error: ${e.message}`));
    });
    stream.on('close', () => this.fail(new VlxError('remote-failed', `${this.label}: QMP connection closed`)));
    stream.on('end', () => this.fail(new VlxError('remote-failed', `${this.label}: QMP connection closed`)));
  }

  /** Read the greeting and negotiate capabilities; the returned client is ready for commands. */
  static async connect(stream: Duplex, opts: QmpOptions = {}): Promise<{ client: QmpClient; greeting: QmpGreeting }> {
    const client = new QmpClient(stream, opts);
    const greeting = await client.waitGreeting();
    await client.execute('qmp_capabilities');
    return { client, greeting };
  }

  private waitGreeting(): Promise<QmpGreeting> {
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(this.closed);
      const timer = setTimeout(() => {
        this.greetingWaiter = undefined;
        reject(new VlxError('timeout', `${this.label}: no QMP greeting within ${this.timeoutMs} ms`));
        this.close();
      }, this.timeoutMs);
      this.greetingWaiter = {
        resolve: (g) => { clearTimeout(timer); resolve(g); },
        reject: (e) => { clearTimeout(timer); reject(e); },
      };
    });
  }

  private onData(chunk: string): void {
    this.buf += chunk;
    let nl: number;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const line = this.buf.slice(0, nl).trim();
      this.buf = this.buf.slice(nl + 1);
      if (line) this.onMessage(line);
    }
  }

  private onMessage(line: string): void {
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(line) as Record<string, unknown>;
    } catch {
      this.fail(new VlxError('remote-failed', `${this.label}: QMP sent something that is not JSON: ${line.slice(0, 200)}`));
      return;
    }
    if ('QMP' in msg) {
      const w = this.greetingWaiter;
      this.greetingWaiter = undefined;
      w?.resolve(msg.QMP as QmpGreeting);
      return;
    }
    if (typeof msg.event === 'string') {
      this.emit('event', msg as unknown as QmpEvent);
      return;
    }
    const id = typeof msg.id === 'string' ? msg.id : undefined;
    const p = id ? this.pending.get(id) : undefined;
    if (!p || !id) return; // a reply to a command whose caller timed out
    this.pending.delete(id);
    if (p.timer) clearTimeout(p.timer);
    if ('error' in msg) {
      const err = msg.error as { class?: string; desc?: string };
      p.reject(new VlxError('remote-failed', `${this.label}: ${p.command}: ${err.desc ?? 'failed'}`, undefined, { qmpClass: err.class }));
    } else {
      p.resolve(msg.return);
    }
  }

  private fail(e: Error): void {
    if (this.closed) return;
    this.closed = e;
    this.greetingWaiter?.reject(e);
    this.greetingWaiter = undefined;
    for (const p of this.pending.values()) {
      if (p.timer) clearTimeout(p.timer);
      p.reject(e);
    }
    this.pending.clear();
    this.emit('close', e);
  }

  get isClosed(): boolean {
    return this.closed !== undefined;
  }

  /** Run one QMP command; an `error` reply rejects with the class and QEMU's description. */
  execute<T = unknown>(command: string, args?: Record<string, unknown>, opts: { timeoutMs?: number } = {}): Promise<T> {
    if (!/^[a-z][a-z0-9_-]*$/.test(command)) return Promise.reject(invalid('command', 'must be a QMP command name', command));
    if (this.closed) return Promise.reject(this.closed);
    const id = `vlx-${this.nextId++}`;
    const ms = opts.timeoutMs ?? this.timeoutMs;
    return new Promise<T>((resolve, reject) => {
      const p: Pending = { command, resolve: resolve as (v: unknown) => void, reject };
      p.timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new VlxError('timeout', `${this.label}: ${command}: no answer within ${ms} ms`));
      }, ms);
      this.pending.set(id, p);
      this.stream.write(JSON.stringify(args ? { execute: command, arguments: args, id } : { execute: command, id }) + '\n');
    });
  }

  /** Resolve at the next event with this name (and matching data, if a predicate is given). */
  waitEvent(name: string, timeoutMs: number, match?: (data: Record<string, unknown>) => boolean): Promise<QmpEvent> {
    return new Promise((resolve, reject) => {
      const onEvent = (ev: QmpEvent): void => {
        if (ev.event !== name || (match && !match(ev.data ?? {}))) return;
        cleanup();
        resolve(ev);
      };
      const onClose = (e: Error | undefined): void => {
        cleanup();
        reject(e ?? new VlxError('remote-failed', `${this.label}: QMP closed while waiting for ${name}`));
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new VlxError('timeout', `${this.label}: no ${name} event within ${timeoutMs} ms`));
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        this.off('event', onEvent);
        this.off('close', onClose);
      };
      this.on('event', onEvent);
      this.on('close', onClose);
    });
  }

  close(): void {
    this.fail(new VlxError('cancelled', `${this.label}: QMP connection closed by us`));
    this.stream.destroy();
  }
}

// ---- helpers over the raw client -------------------------------------------------------

export type RunState = 'running' | 'paused' | 'postmigrate' | 'inmigrate' | 'prelaunch' | 'shutdown' | 'suspended' | 'finish-migrate' | 'restore-vm' | 'save-vm' | 'internal-error' | 'io-error' | 'guest-panicked' | 'watchdog' | 'colo' | 'debug';

export async function status(q: QmpClient): Promise<{ running: boolean; status: RunState }> {
  return q.execute('query-status');
}

export async function stop(q: QmpClient): Promise<void> {
  await q.execute('stop');
}

export async function cont(q: QmpClient): Promise<void> {
  await q.execute('cont');
}

/** ACPI power button: a guest with an ACPI daemon shuts down; the caller keeps the deadline. */
export async function systemPowerdown(q: QmpClient): Promise<void> {
  await q.execute('system_powerdown');
}

/** Ends QEMU; the connection closes under us, which is the expected outcome. */
export async function quit(q: QmpClient): Promise<void> {
  try {
    await q.execute('quit');
  } catch (e) {
    if (!(e instanceof VlxError) || !q.isClosed) throw e;
  }
}

export interface MigrationInfo {
  status: 'none' | 'setup' | 'active' | 'completed' | 'failed' | 'cancelled' | 'cancelling' | 'device' | 'pre-switchover' | 'postcopy-active' | 'wait-unplug';
  'total-time'?: number;
  downtime?: number;
  'expected-downtime'?: number;
  'setup-time'?: number;
  'error-desc'?: string;
  ram?: { transferred: number; total: number; remaining: number; mbps: number };
}

export async function queryMigrate(q: QmpClient): Promise<MigrationInfo> {
  return q.execute('query-migrate');
}

/** Stops an outgoing migration; a running source goes on running (QEMU resumes it). */
export async function migrateCancel(q: QmpClient): Promise<void> {
  await q.execute('migrate_cancel');
}

/**
 * What a QEMU is doing now: its run state and its last outgoing migration's status ('none'
 * if it never sent one; an incoming QEMU shows its stream while it loads). Both are global
 * to QEMU, so any client sees what an earlier client (a killed workstation) started.
 */
export async function observe(q: QmpClient): Promise<{ status: RunState; migration: MigrationInfo['status'] }> {
  const s = await status(q);
  const m = await queryMigrate(q);
  return { status: s.status, migration: m.status ?? 'none' };
}

export interface MigrateOptions {
  /** Bytes per second; QEMU's default cap (32 MiB/s) makes a lab migration take seconds. */
  maxBandwidth?: number;
  /** Milliseconds the guest may be paused for the final copy. */
  downtimeLimitMs?: number;
  /** How long to wait for completion overall. */
  timeoutMs?: number;
  /** How often to ask query-migrate. */
  pollMs?: number;
}

export interface MigrationResult {
  status: 'completed';
  totalTimeMs: number;
  downtimeMs: number;
  transferredBytes: number;
}

const DEFAULT_BANDWIDTH = 10 * 1024 * 1024 * 1024;

/** Migrate to a URI and wait until QEMU reports completion; failure carries QEMU's reason. */
export async function migrate(q: QmpClient, uri: string, opts: MigrateOptions = {}): Promise<MigrationResult> {
  await q.execute('migrate-set-parameters', {
    'max-bandwidth': opts.maxBandwidth ?? DEFAULT_BANDWIDTH,
    'downtime-limit': opts.downtimeLimitMs ?? 100,
  });
  await q.execute('migrate', { uri });
  const deadline = Date.now() + (opts.timeoutMs ?? 300_000);
  const poll = opts.pollMs ?? 50;
  for (;;) {
    const info = await queryMigrate(q);
    if (info.status === 'completed') {
      return {
        status: 'completed',
        totalTimeMs: info['total-time'] ?? 0,
        downtimeMs: info.downtime ?? 0,
        transferredBytes: info.ram?.transferred ?? 0,
      };
    }
    if (info.status === 'failed' || info.status === 'cancelled') {
      throw new VlxError('remote-failed', `${q.label}: migration to ${uri} ${info.status}${info['error-desc'] ? `: ${info['error-desc']}` : ''}`);
    }
    if (Date.now() > deadline) {
      await q.execute('migrate_cancel').catch(() => undefined);
      throw new VlxError('timeout', `${q.label}: migration to ${uri} did not finish in time (last status ${info.status})`);
    }
    await new Promise((r) => setTimeout(r, poll));
  }
}

/**
 * Save the VM's RAM and device state to a file on the node. The VM ends paused in
 * 'postmigrate'; the caller quits it. The file is written through a shell QEMU starts,
 * so the path is restricted to characters that need no quoting.
 */
export async function saveToFile(q: QmpClient, path: string, opts: MigrateOptions = {}): Promise<MigrationResult> {
  checkPath(path, 'statePath');
  return migrate(q, `exec:cat > ${path}`, opts);
}

/**
 * After QEMU started with `-incoming exec:cat FILE`: wait for the state to load, then run
 * the guest (a state saved while paused restores paused).
 */
export async function finishRestore(q: QmpClient, opts: { timeoutMs?: number; pollMs?: number; resume?: boolean } = {}): Promise<RunState> {
  const deadline = Date.now() + (opts.timeoutMs ?? 120_000);
  for (;;) {
    const s = await status(q);
    if (s.status !== 'inmigrate') {
      // A QEMU in postmigrate has handed its guest to another QEMU, which may have run it:
      // resuming it would run a guest whose memory no longer matches its disk.
      if (s.status === 'postmigrate') throw new VlxError('conflict', `${q.label}: this QEMU handed its guest over (postmigrate): it is not resumed`);
      if (s.status === 'paused' || s.status === 'prelaunch') {
        if (opts.resume === false) return s.status;
        await cont(q);
        return 'running';
      }
      if (s.status === 'running') return s.status;
      throw new VlxError('remote-failed', `${q.label}: restore ended in state ${s.status}`);
    }
    const m = await queryMigrate(q);
    if (m.status === 'failed') throw new VlxError('remote-failed', `${q.label}: restore failed${m['error-desc'] ? `: ${m['error-desc']}` : ''}`);
    if (Date.now() > deadline) throw new VlxError('timeout', `${q.label}: restore did not finish in time`);
    await new Promise((r) => setTimeout(r, opts.pollMs ?? 50));
  }
}

/** QMP of a VM on a node, through the node's SSH connection (stream-local forwarding). */
export async function openQmp(conn: Pick<NodeConn, 'name' | 'openUnixSocket'>, socketPath: string, opts: QmpOptions = {}): Promise<QmpClient> {
  const stream = await conn.openUnixSocket(checkPath(socketPath, 'qmpSocket'));
  return (await QmpClient.connect(stream, { label: opts.label ?? `${conn.name}:${socketPath}`, timeoutMs: opts.timeoutMs })).client;
}
