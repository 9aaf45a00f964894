/**
 * Over 400 lines on purpose: one node's connection is one state machine (connect, host-key
 * check, keep-alive, reconnect, bounded channels, half-open detection); its parts share state
 * that must not leak into the rest of the SSH core.
 */
import ssh2, { type Client, type ClientChannel, type ConnectConfig } from 'ssh2';
import { connect as netConnect, type Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import { StringDecoder } from 'node:string_decoder';
import type { Duplex } from 'node:stream';
import { VlxError } from '../errors.js';
import type { ExecOptions, ExecResult, NodeConn, NodeRef } from './types.js';
import { normaliseSshError } from './errors.js';
import { makeHostVerifier, type HostKeyOptions } from './hostKeys.js';
import { Semaphore } from './semaphore.js';

/**
 * Private keys parsed once per process, by file and content: ssh2 parses a key given as bytes
 * on every connection (a few ms each, 16 connections for a 16-node `vlx exec`).
 */
const keys = new Map<string, { data: Buffer; key: unknown }>();

function parsedKey(file: string, data: Buffer): unknown {
  const hit = keys.get(file);
  if (hit && hit.data.equals(data)) return hit.key;
  const key = ssh2.utils.parseKey(data);
  if (key instanceof Error || Array.isArray(key)) return undefined;
  keys.set(file, { data, key });
  return key;
}

/**
 * Writes made in one tick go out in one system call (cork until the next tick). ssh2 writes
 * each SSH packet on its own, and with TCP_NODELAY each becomes a syscall and a segment;
 * during a handshake or a burst of channel requests several packets are written together.
 */
function coalesceWrites(sock: Socket): void {
  const write = sock.write.bind(sock) as (...a: unknown[]) => boolean;
  let corked = false;
  (sock as unknown as { write: (...a: unknown[]) => boolean }).write = (...args: unknown[]) => {
    if (!corked) {
      corked = true;
      sock.cork();
      process.nextTick(() => {
        corked = false;
        sock.uncork();
      });
    }
    return write(...args);
  };
}

/** Exit status of each command channel, recorded the moment ssh2 reports it (see openExecChannel). */
const exits = new WeakMap<ClientChannel, { code?: number; signal?: string }>();

export interface ConnectOptions extends HostKeyOptions {
  user: string;
  port: number;
  /** A private key file; without one the SSH agent at `agent` or $SSH_AUTH_SOCK is used. */
  keyFile?: string;
  agent?: string;
  /** TCP connect deadline. A dead node never answers a SYN, so this bounds how long we wait for one. */
  connectTimeoutMs?: number;
  /** SSH handshake + authentication deadline once TCP is up. */
  readyTimeoutMs?: number;
  keepaliveIntervalMs?: number;
  keepaliveCountMax?: number;
  /** Concurrent exec channels; sshd's MaxSessions defaults to 10, shells need a few of those. */
  maxChannels?: number;
  /**
   * A node that died without closing its sockets leaves a half-open connection that
   * accepts our packets silently; an unanswered channel-open is how we notice early.
   */
  channelOpenTimeoutMs?: number;
}

const DEFAULTS = {
  connectTimeoutMs: 5000,
  readyTimeoutMs: 15000,
  keepaliveIntervalMs: 3000,
  keepaliveCountMax: 3,
  maxChannels: 8,
  channelOpenTimeoutMs: 5000,
};

/** Marks failures where the command provably never started, so another node may run it. */
export function notStarted(e: unknown): boolean {
  return e instanceof VlxError && e.code === 'unreachable' && e.details?.notStarted === true;
}

/** One pooled ssh2 connection to one node; reconnects on next use after a drop. */
export class NodeConnection implements NodeConn {
  readonly name: string;
  readonly address: string;
  private readonly opts: ConnectOptions & typeof DEFAULTS;
  private readonly slots: Semaphore;
  private client?: Client;
  private connecting?: Promise<Client>;
  /** Rejecters of every call in flight on the current client, failed together when it drops. */
  private readonly inFlight = new Set<(e: VlxError) => void>();
  private closed = false;

  constructor(ref: NodeRef, opts: ConnectOptions) {
    this.name = ref.name;
    this.address = ref.address;
    this.opts = { ...DEFAULTS, ...opts };
    this.slots = new Semaphore(this.opts.maxChannels);
  }

  get connected(): boolean {
    return this.client !== undefined;
  }

  private target() {
    return { node: this.name, address: this.address, port: this.opts.port, user: this.opts.user };
  }

  /** Connect if needed. `connectTimeoutMs` overrides the TCP deadline for this attempt (races use a short one). */
  connect(connectTimeoutMs?: number): Promise<Client> {
    if (this.closed) return Promise.reject(new VlxError('cancelled', `connection to node ${this.name} was closed`));
    if (this.client) return Promise.resolve(this.client);
    if (!this.connecting) {
      this.connecting = this.open(connectTimeoutMs ?? this.opts.connectTimeoutMs).finally(() => {
        this.connecting = undefined;
      });
    }
    return this.connecting;
  }

  private auth(): Pick<ConnectConfig, 'privateKey' | 'agent' | 'authHandler'> {
    if (this.opts.keyFile) {
      let data: Buffer;
      try {
        data = readFileSync(this.opts.keyFile);
      } catch (e) {
        throw new VlxError('not-found', `key file ${this.opts.keyFile} cannot be read: ${(e as Error).message}`, 'give a readable private key with --key');
      }
      const parsed = parsedKey(this.opts.keyFile, data);
      // A key parsed once serves every connection; one ssh2 cannot parse goes to it as is, for its own error.
      return parsed ? { authHandler: [{ type: 'publickey', username: this.opts.user, key: parsed }] as never } : { privateKey: data };
    }
    const agent = this.opts.agent ?? process.env.SSH_AUTH_SOCK;
    if (agent) return { agent };
    throw new VlxError('auth-failed', `no key for node ${this.name}: the cluster has no key file and no SSH agent is running`, 'give a key with --key FILE, or start ssh-agent and ssh-add your key');
  }

  private open(connectTimeoutMs: number): Promise<Client> {
    const t = this.target();
    const auth = this.auth();
    const hv = makeHostVerifier(t, this.opts);
    return new Promise<Client>((resolve, reject) => {
      const client = new ssh2.Client();
      let sock: Socket | undefined;
      let settled = false;
      const fail = (e: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(tcpTimer);
        client.removeAllListeners();
        client.on('error', () => {});
        client.end();
        sock?.destroy();
        reject(hv.refusal() ?? normaliseSshError(e, t));
      };
      const tcpTimer = setTimeout(() => {
        fail(Object.assign(new Error('connect timeout'), { code: 'connect-timeout' }));
      }, connectTimeoutMs);

      sock = netConnect({ host: this.address, port: this.opts.port });
      // Nagle delays every small channel request by up to 40 ms (LAB-NOTES, SSH performance).
      sock.setNoDelay(true);
      coalesceWrites(sock);
      sock.once('error', fail);
      sock.once('connect', () => {
        clearTimeout(tcpTimer);
        sock!.removeListener('error', fail);
        client.on('error', (e) => {
          if (!settled) fail(e);
          else this.dropped(client, normaliseSshError(e, t));
        });
        client.on('close', () => {
          if (!settled) fail(Object.assign(new Error('Connection lost before handshake'), { code: 'ECONNRESET' }));
          else this.dropped(client);
        });
        client.once('ready', () => {
          settled = true;
          if (this.closed) {
            client.end();
            reject(new VlxError('cancelled', `connection to node ${this.name} was closed`));
            return;
          }
          this.client = client;
          resolve(client);
        });
        try {
          client.connect({
            sock,
            username: this.opts.user,
            ...auth,
            readyTimeout: this.opts.readyTimeoutMs,
            keepaliveInterval: this.opts.keepaliveIntervalMs,
            keepaliveCountMax: this.opts.keepaliveCountMax,
            algorithms: { serverHostKey: hv.algorithms as never },
            hostVerifier: hv.verify,
          });
        } catch (e) {
          fail(e);
        }
      });
    });
  }

  private dropped(client: Client, why?: VlxError): void {
    if (this.client !== client) return;
    this.client = undefined;
    client.removeAllListeners();
    client.on('error', () => {});
    // Dropped means the node stopped answering: a polite end() would leave the socket
    // retransmitting its goodbye to a dead peer for minutes, and keep a finished CLI alive.
    client.destroy();
    const err = why ?? new VlxError('unreachable', `lost the connection to node ${this.name} (${this.address})`, 'the node may have crashed or lost its network', { node: this.name, address: this.address });
    for (const rej of [...this.inFlight]) rej(err);
    this.inFlight.clear();
  }

  /** Open a channel on a live connection, treating an unanswered open as a dead node. */
  private openChannel<T>(client: Client, what: string, open: (cb: (err: Error | undefined, ch: T) => void) => void): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let done = false;
      const timer = setTimeout(() => {
        if (done) return;
        done = true;
        const err = new VlxError('unreachable', `node ${this.name} (${this.address}) stopped answering (no reply when opening ${what})`, 'the node may have crashed or lost its network', { node: this.name, address: this.address, notStarted: true });
        this.dropped(client, err);
        reject(err);
      }, this.opts.channelOpenTimeoutMs);
      try {
        open((err, ch) => {
          if (done) return;
          done = true;
          clearTimeout(timer);
          if (err) {
            if (this.client !== client) {
              reject(new VlxError('unreachable', `lost the connection to node ${this.name} (${this.address}) before ${what} opened`, undefined, { node: this.name, address: this.address, notStarted: true }));
            } else {
              reject(new VlxError('remote-failed', `node ${this.name} refused to open ${what}: ${err.message}`, 'sshd may limit sessions (MaxSessions) or forwarding (AllowStreamLocalForwarding, AllowTcpForwarding)', { node: this.name }));
            }
          } else resolve(ch);
        });
      } catch (e) {
        done = true;
        clearTimeout(timer);
        reject(new VlxError('unreachable', `lost the connection to node ${this.name}: ${(e as Error).message}`, undefined, { node: this.name, notStarted: true }));
      }
    });
  }

  /**
   * sshd frees a session slot a little after the channel closes on our side (and a timed-out
   * command may still hold one), so a refusal while our own channels are busy is retried
   * briefly instead of failing the command.
   */
  private async openExecChannel(client: Client, command: string): Promise<ClientChannel> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.openChannel<ClientChannel>(client, 'a command channel', (cb) => client.exec(command, (err, ch) => {
          // Listen before yielding: a quick command's exit status can arrive in the same read
          // as the channel confirmation, and ssh2 emits 'exit' once, right then.
          if (ch) ch.on('exit', (c: number | null, sig?: string) => exits.set(ch, { code: typeof c === 'number' ? c : undefined, signal: sig }));
          cb(err, ch);
        }));
      } catch (e) {
        const refused = e instanceof VlxError && e.code === 'remote-failed' && /open failed/i.test(e.message);
        if (!refused || attempt >= 10 || this.client !== client) throw e;
        await new Promise((r) => setTimeout(r, 20 * attempt));
      }
    }
  }

  async exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    const started = Date.now();
    const signal = opts.signal;
    if (signal?.aborted) throw cancelled(this.name, command);
    let deadline: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    let channel: ClientChannel | undefined;
    let release: (() => void) | undefined;
    // Set once the caller has been answered (timeout, abort): work still pending must not start the command.
    let abandoned = false;
    const stop = () => {
      abandoned = true;
      // OpenSSH delivers the signal where it can; closing the channel ends the session either way.
      try { channel?.signal('KILL'); } catch { /* channel already gone */ }
      try { channel?.close(); } catch { /* channel already gone */ }
    };
    const interrupt = new Promise<never>((_, reject) => {
      if (opts.timeoutMs !== undefined) {
        deadline = setTimeout(() => {
          stop();
          reject(new VlxError('timeout', `\`${command}\` on node ${this.name} did not finish within ${fmtSeconds(opts.timeoutMs!)}`, 'raise --timeout if the command is expected to take longer', { node: this.name, command, ms: Date.now() - started }));
        }, opts.timeoutMs);
      }
      if (signal) {
        onAbort = () => {
          stop();
          reject(cancelled(this.name, command));
        };
        signal.addEventListener('abort', onAbort, { once: true });
      }
    });
    interrupt.catch(() => {});
    const work = (async (): Promise<ExecResult> => {
      const client = await this.connect();
      if (abandoned) throw cancelled(this.name, command);
      release = await this.slots.acquire(signal);
      if (abandoned) throw cancelled(this.name, command);
      channel = await this.openExecChannel(client, command);
      if (abandoned) {
        stop();
        throw cancelled(this.name, command);
      }
      return await new Promise<ExecResult>((resolve, reject) => {
        const ch = channel!;
        const lost = (e: VlxError) => reject(e);
        this.inFlight.add(lost);
        const out = new StringDecoder('utf8');
        const err = new StringDecoder('utf8');
        let stdout = '';
        let stderr = '';
        let code: number | undefined;
        let sig: string | undefined;
        ch.on('data', (b: Buffer) => {
          const s = out.write(b);
          stdout += s;
          if (s && opts.onStdout) opts.onStdout(s);
        });
        ch.stderr.on('data', (b: Buffer) => {
          const s = err.write(b);
          stderr += s;
          if (s && opts.onStderr) opts.onStderr(s);
        });
        ch.on('close', () => {
          const exit = exits.get(ch);
          if (exit?.code !== undefined) code = exit.code;
          if (exit?.signal) sig = exit.signal;
          this.inFlight.delete(lost);
          const restOut = out.end();
          const restErr = err.end();
          if (restOut) { stdout += restOut; opts.onStdout?.(restOut); }
          if (restErr) { stderr += restErr; opts.onStderr?.(restErr); }
          // No exit status: killed by a signal, or the session was torn down under it.
          resolve({ code: code ?? (sig ? 128 : -1), ...(sig ? { signal: sig } : {}), stdout, stderr });
        });
        if (opts.stdin !== undefined) ch.end(opts.stdin);
        else ch.end();
      });
    })();
    try {
      return await Promise.race([work, interrupt]);
    } finally {
      clearTimeout(deadline);
      if (onAbort) signal?.removeEventListener('abort', onAbort);
      abandoned = true;
      // The slot is freed when the channel is really gone, not when the caller stopped waiting.
      work.then(() => release?.(), () => release?.());
    }
  }

  async run(command: string, opts: ExecOptions = {}): Promise<string> {
    const r = await this.exec(command, opts);
    if (r.code !== 0) throw remoteFailed(this.name, command, r);
    return r.stdout;
  }

  async shell(size: { rows: number; cols: number; term?: string }): Promise<ClientChannel> {
    const client = await this.connect();
    return this.openChannel<ClientChannel>(client, 'a shell', (cb) =>
      client.shell({ rows: size.rows, cols: size.cols, term: size.term ?? 'xterm-256color' }, cb),
    );
  }

  async openUnixSocket(path: string): Promise<Duplex> {
    const client = await this.connect();
    return this.openChannel<Duplex>(client, `unix socket ${path}`, (cb) => client.openssh_forwardOutStreamLocal(path, cb as never));
  }

  async openTcp(host: string, port: number): Promise<Duplex> {
    const client = await this.connect();
    return this.openChannel<Duplex>(client, `a tunnel to ${host}:${port}`, (cb) => client.forwardOut('127.0.0.1', 0, host, port, cb as never));
  }

  /** Close for good: later calls fail instead of reconnecting. */
  async close(): Promise<void> {
    this.closed = true;
    const c = this.client;
    this.client = undefined;
    if (!c) return;
    await new Promise<void>((resolve) => {
      c.once('close', () => resolve());
      c.end();
      // A half-open connection (a crashed node) never confirms the close, and its socket,
      // still retransmitting, would keep the process alive for minutes: drop it.
      setTimeout(() => {
        c.destroy();
        resolve();
      }, 500).unref();
    });
    c.removeAllListeners();
  }
}

export function remoteFailed(node: string, command: string, r: ExecResult): VlxError {
  const tail = r.stderr.trim().split('\n').slice(-5).join('\n');
  const how = r.signal ? `was killed by SIG${r.signal}` : `exited with ${r.code}`;
  return new VlxError('remote-failed', `on node ${node}: \`${command}\` ${how}${tail ? `: ${tail}` : ''}`, undefined, {
    node, command, code: r.code, stderr: r.stderr, stdout: r.stdout,
  });
}

function cancelled(node: string, command: string): VlxError {
  return new VlxError('cancelled', `\`${command}\` on node ${node} was cancelled`, undefined, { node, command });
}

function fmtSeconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}
