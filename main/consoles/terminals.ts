/**
 * Over 400 lines on purpose: the hub owns two kinds of upstream (SSH shells and serial
 * sockets shared by several viewers) whose lifetimes, scrollback and reconnects depend on
 * each other; split apart, each half would have to expose what the other must not touch.
 */
import { randomUUID } from 'node:crypto';
import { StringDecoder } from 'node:string_decoder';
import type { Duplex } from 'node:stream';
import type { ClientChannel } from 'ssh2';
import { VlxError, asVlxError } from '../errors.js';
import { checkInt, checkName } from '../util/names.js';
import type { ClusterSession } from '../ssh/session.types.js';
import { Scrollback, DEFAULT_SCROLLBACK } from './scrollback.js';
import { isVmTarget, targetTitle, type ConsoleTarget } from './target.js';
import { locateVm } from './locate.js';

export interface TermSize {
  rows: number;
  cols: number;
}

/** Why a terminal ended; `reason` is printed in the terminal, `lost` offers a reconnect. */
export interface TerminalExit {
  reason: string;
  /** The remote shell's exit status, when it exited by itself. */
  code?: number;
  lost: boolean;
}

export const CLOSED_BY_YOU: TerminalExit = { reason: 'closed by you', lost: false };
export const VM_STOPPED: TerminalExit = { reason: 'VM stopped', lost: false };
export const NODE_UNREACHABLE: TerminalExit = { reason: 'node unreachable', lost: true };
export function connectionLost(why: string): TerminalExit {
  return { reason: `connection lost: ${why}`, lost: true };
}
export function shellEnded(code: number | null | undefined, signal?: string): TerminalExit {
  if (signal) return { reason: `killed by signal ${signal}`, lost: false };
  return { reason: `exited with code ${code ?? 0}`, code: code ?? 0, lost: false };
}

export interface TerminalInfo {
  id: string;
  title: string;
  target: ConsoleTarget;
  size: TermSize;
  /** The node it is attached to (a VM's node can change under it: live migration). */
  node?: string;
  open: boolean;
  exit?: TerminalExit;
}

export interface TerminalHubOptions {
  /** Where the DB's mapping places a VM; the scan of nodes decides when they disagree. */
  vmNodeHint?: (vc: string, vm: string) => Promise<string | undefined>;
  /** Characters of serial output kept per VM and replayed to a viewer that joins. */
  scrollback?: number;
  /** How long the reachability check after a lost channel may take. */
  probeTimeoutMs?: number;
}

type Listener<T> = (id: string, payload: T) => void;

interface Viewer {
  id: string;
  target: ConsoleTarget;
  title: string;
  size: TermSize;
  state: 'opening' | 'open' | 'ended';
  exit?: TerminalExit;
  /** Output produced before the caller learned the id; flushed right after open() returns. */
  held: string[];
  shell?: ClientChannel;
  node?: string;
  /** Characters sent to the face and not yet acknowledged as drawn (flow control). */
  unacked: number;
}

/** One connection to a VM's serial socket, fanned out to every viewer of that VM. */
interface SerialUpstream {
  key: string;
  vc: string;
  vm: string;
  node?: string;
  stream?: Duplex;
  attaching?: Promise<void>;
  decoder: StringDecoder;
  scrollback: Scrollback;
  viewers: Set<Viewer>;
  /** Automatic re-attaches since output last arrived; bounds a console that keeps closing. */
  reattaches: number;
}

const MAX_REATTACH = 3;

/**
 * Flow control (xterm.js's recommended watermarks): above HIGH characters sent to a face but
 * not yet drawn, the upstream (the SSH channel, the serial socket) stops being read, so the
 * node's PTY blocks its writer and nothing queues up in this process or the bridge; below LOW
 * it is read again. A flood then costs a bounded amount of memory, and a Ctrl-C reaches a
 * prompt that is drawn at once instead of after the whole backlog.
 */
export const FLOW_HIGH = 64 * 1024;
export const FLOW_LOW = 16 * 1024;
/**
 * ssh2 buffers up to 2 MiB of a paused channel before it stops widening the SSH window, and
 * that backlog is drawn after a Ctrl-C before the prompt; a smaller buffer stops the node sooner.
 */
const CHANNEL_BUFFER = 64 * 1024;

/**
 * Every open console of the app, with no UI: node shells (an SSH shell channel with a PTY
 * each) and VM serial consoles. A serial socket takes one client at a time, so all viewers
 * of one VM share one upstream connection and see the same bytes; a late viewer first gets
 * the scrollback. Output is decoded as a stream so a multibyte character split across SSH
 * packets arrives whole. Consumers (IPC, the web bridge, the CLI) subscribe to data and
 * exit events keyed by terminal id.
 */
export class TerminalHub {
  private readonly viewers = new Map<string, Viewer>();
  private readonly serials = new Map<string, SerialUpstream>();
  private readonly dataListeners = new Set<Listener<string>>();
  private readonly exitListeners = new Set<Listener<TerminalExit>>();
  private readonly scrollbackMax: number;
  private readonly probeTimeoutMs: number;

  constructor(
    private readonly session: Pick<ClusterSession, 'node' | 'onNodes'>,
    private readonly opts: TerminalHubOptions = {},
  ) {
    this.scrollbackMax = opts.scrollback ?? DEFAULT_SCROLLBACK;
    this.probeTimeoutMs = opts.probeTimeoutMs ?? 5000;
  }

  onData(l: Listener<string>): () => void {
    this.dataListeners.add(l);
    return () => { this.dataListeners.delete(l); };
  }

  onExit(l: Listener<TerminalExit>): () => void {
    this.exitListeners.add(l);
    return () => { this.exitListeners.delete(l); };
  }

  async open(target: ConsoleTarget, size: TermSize): Promise<{ id: string; title: string }> {
    const t: ConsoleTarget = isVmTarget(target)
      ? { vc: checkName('vc', target.vc, 'VC name'), vm: checkName('vm', target.vm, 'VM name') }
      : { node: checkName('node', target.node, 'node') };
    const viewer: Viewer = {
      id: `term-${randomUUID()}`,
      target: t,
      title: isVmTarget(t) ? `${targetTitle(t)} (serial)` : targetTitle(t),
      size: checkSize(size),
      state: 'opening',
      held: [],
      unacked: 0,
    };
    this.viewers.set(viewer.id, viewer);
    try {
      await this.attach(viewer, false);
    } catch (e) {
      this.viewers.delete(viewer.id);
      throw e;
    }
    return { id: viewer.id, title: viewer.title };
  }

  write(id: string, data: string | Buffer): void {
    const v = this.live(id);
    if (v.shell) {
      v.shell.write(data);
      return;
    }
    // While a serial console re-attaches there is nowhere to send keys; they are dropped
    // rather than replayed into a guest whose state moved on.
    const up = this.serials.get(serialKey(v.target));
    up?.stream?.write(data);
  }

  /**
   * The face has drawn `chars` more characters of this console. Faces that never acknowledge
   * (an old client) stall their own console at FLOW_HIGH, never anyone else's.
   */
  ack(id: string, chars: number): void {
    // A face acknowledges what it drew; the last acks may arrive after the terminal closed
    // (the face draws on its own clock). Nothing is left to pace then: not an error.
    const v = this.viewers.get(id);
    if (!v) return;
    v.unacked = Math.max(0, v.unacked - chars);
    this.flow(v);
  }

  resize(id: string, rows: number, cols: number): void {
    const v = this.get(id);
    v.size = checkSize({ rows, cols });
    // A serial line has no window size; it is kept for a reconnect and for the UI.
    if (v.shell && v.state === 'open') v.shell.setWindow(v.size.rows, v.size.cols, 0, 0);
  }

  close(id: string): void {
    const v = this.viewers.get(id);
    if (!v) return;
    this.viewers.delete(id);
    if (v.state === 'ended') return;
    this.detach(v);
    this.end(v, CLOSED_BY_YOU);
  }

  /** Reopen a console that ended (lost connection, VM stopped and started again). Same id. */
  async reconnect(id: string): Promise<void> {
    const v = this.get(id);
    if (v.state !== 'ended') return;
    v.state = 'opening';
    v.exit = undefined;
    // What the face had not drawn belonged to the connection that ended.
    v.unacked = 0;
    try {
      await this.attach(v, true);
    } catch (e) {
      v.state = 'ended';
      v.exit = exitFromError(e);
      throw e;
    }
  }

  info(id: string): TerminalInfo {
    const v = this.get(id);
    return {
      id: v.id,
      title: v.title,
      target: { ...v.target },
      size: { ...v.size },
      ...(this.nodeOf(v) ? { node: this.nodeOf(v) } : {}),
      open: v.state !== 'ended',
      ...(v.exit ? { exit: { ...v.exit } } : {}),
    };
  }

  list(): TerminalInfo[] {
    return [...this.viewers.keys()].map((id) => this.info(id));
  }

  /** Close every console (app shutdown). */
  closeAll(): void {
    for (const id of [...this.viewers.keys()]) this.close(id);
  }

  // ------------------------------------------------------------------ internals

  private get(id: string): Viewer {
    const v = this.viewers.get(id);
    if (!v) throw new VlxError('not-found', `no terminal ${id}`, 'it was closed; open a new one');
    return v;
  }

  private live(id: string): Viewer {
    const v = this.get(id);
    if (v.state === 'ended') throw new VlxError('conflict', `terminal ${v.title} has ended: ${v.exit?.reason ?? 'closed'}`, 'reconnect it or open a new one');
    return v;
  }

  private nodeOf(v: Viewer): string | undefined {
    return isVmTarget(v.target) ? this.serials.get(serialKey(v.target))?.node : v.node;
  }

  private async attach(v: Viewer, reconnecting: boolean): Promise<void> {
    if (isVmTarget(v.target)) await this.joinSerial(v, v.target, reconnecting);
    else await this.openShell(v, v.target.node);
    if (v.state !== 'opening') return; // closed while opening
    v.state = 'open';
    // The caller learns the id when open() resolves; output held until then follows it.
    setImmediate(() => {
      const held = v.held.splice(0).join('');
      if (held && v.state !== 'ended') this.emitData(v, held);
    });
  }

  private deliver(v: Viewer, s: string): void {
    if (v.state === 'opening') v.held.push(s);
    else if (v.state === 'open' && v.held.length > 0) v.held.push(s);
    else if (v.state === 'open') this.emitData(v, s);
  }

  private emitData(v: Viewer, s: string): void {
    v.unacked += s.length;
    this.flow(v);
    for (const l of [...this.dataListeners]) {
      try { l(v.id, s); } catch { /* one broken consumer must not starve the others */ }
    }
  }

  /** Pause or resume the viewer's upstream by the watermarks (a serial upstream: by its slowest open viewer). */
  private flow(v: Viewer): void {
    if (v.shell) {
      if (v.unacked > FLOW_HIGH && !v.shell.isPaused()) v.shell.pause();
      else if (v.unacked < FLOW_LOW && v.shell.isPaused()) v.shell.resume();
      return;
    }
    if (!isVmTarget(v.target)) return;
    const up = this.serials.get(serialKey(v.target));
    const stream = up?.stream;
    if (!up || !stream) return;
    const worst = Math.max(0, ...[...up.viewers].filter((x) => x.state === 'open').map((x) => x.unacked));
    if (worst > FLOW_HIGH && !stream.isPaused()) stream.pause();
    else if (worst < FLOW_LOW && stream.isPaused()) stream.resume();
  }

  private end(v: Viewer, exit: TerminalExit): void {
    if (v.state === 'ended') return;
    // Output already received goes out before the exit, whatever the order of events.
    const held = v.held.splice(0).join('');
    if (held && v.state === 'open') this.emitData(v, held);
    v.state = 'ended';
    v.exit = exit;
    for (const l of [...this.exitListeners]) {
      try { l(v.id, { ...exit }); } catch { /* see emitData */ }
    }
  }

  /** Undo what attach made for this viewer, without emitting anything. */
  private detach(v: Viewer): void {
    if (v.shell) {
      const ch = v.shell;
      v.shell = undefined;
      ch.removeAllListeners('data');
      ch.stderr.removeAllListeners('data');
      try { ch.close(); } catch { /* channel already gone */ }
    }
    if (isVmTarget(v.target)) {
      const up = this.serials.get(serialKey(v.target));
      if (up) {
        up.viewers.delete(v);
        if (up.viewers.size === 0) this.dropSerial(up);
      }
    }
  }

  // ---------------------------------------------------------------- node shells

  private async openShell(v: Viewer, node: string): Promise<void> {
    const conn = await this.session.node(node);
    const ch = await conn.shell({ rows: v.size.rows, cols: v.size.cols });
    if (v.state !== 'opening') {
      try { ch.close(); } catch { /* gone */ }
      return;
    }
    (ch as unknown as { _readableState?: { highWaterMark: number } })._readableState!.highWaterMark = CHANNEL_BUFFER;
    v.shell = ch;
    v.node = node;
    const decoder = new StringDecoder('utf8');
    let status: { code: number | null; signal?: string } | undefined;
    let error: string | undefined;
    const onBytes = (b: Buffer) => {
      const s = decoder.write(b);
      if (s) this.deliver(v, s);
    };
    ch.on('data', onBytes);
    ch.stderr.on('data', onBytes);
    ch.on('exit', (code: number | null, signal?: string) => {
      status = { code, ...(signal ? { signal } : {}) };
    });
    ch.on('error', (e: Error) => { error = e.message; });
    ch.once('close', () => {
      if (v.shell !== ch) return; // closed by us: the exit was already reported
      v.shell = undefined;
      const tail = decoder.end();
      if (tail) this.deliver(v, tail);
      if (status) {
        this.end(v, shellEnded(status.code, status.signal));
        return;
      }
      void this.nodeAnswers(node).then((ok) => {
        this.end(v, ok ? connectionLost(error ?? 'the shell channel closed without an exit status') : NODE_UNREACHABLE);
      });
    });
  }

  /** After a channel vanished: is the node still there (connection lost) or gone (unreachable)? */
  private async nodeAnswers(node: string): Promise<boolean> {
    try {
      const conn = await this.session.node(node);
      const r = await conn.exec('true', { timeoutMs: this.probeTimeoutMs });
      return r.code === 0;
    } catch {
      return false;
    }
  }

  // ------------------------------------------------------------- serial consoles

  private async joinSerial(v: Viewer, t: { vc: string; vm: string }, reconnecting: boolean): Promise<void> {
    const key = serialKey(t);
    let up = this.serials.get(key);
    if (!up) {
      up = { key, vc: t.vc, vm: t.vm, decoder: new StringDecoder('utf8'), scrollback: new Scrollback(this.scrollbackMax), viewers: new Set(), reattaches: 0 };
      this.serials.set(key, up);
    }
    const alreadyOpen = Boolean(up.stream) && !up.attaching;
    up.viewers.add(v);
    if (alreadyOpen) {
      // A reconnecting viewer still shows what it saw; a new one starts from the scrollback.
      const replay = reconnecting ? '' : up.scrollback.snapshot();
      if (replay) v.held.push(replay);
      return;
    }
    try {
      up.attaching ??= this.attachSerial(up).finally(() => { if (up) up.attaching = undefined; });
      await up.attaching;
    } catch (e) {
      up.viewers.delete(v);
      if (up.viewers.size === 0) this.dropSerial(up);
      throw e;
    }
  }

  private async attachSerial(up: SerialUpstream): Promise<void> {
    const hint = this.opts.vmNodeHint ? await this.opts.vmNodeHint(up.vc, up.vm).catch(() => undefined) : undefined;
    const loc = await locateVm(this.session, up.vc, up.vm, hint);
    const conn = await this.session.node(loc.node);
    let stream: Duplex;
    try {
      stream = await conn.openUnixSocket(loc.socket);
    } catch (e) {
      // The socket file outlives a QEMU that was killed: nobody listens behind it.
      const err = asVlxError(e);
      if (err.code === 'unreachable' || err.code === 'timeout') throw err;
      throw new VlxError('conflict', `VM ${up.vc}/${up.vm} is not running: its serial console on node ${loc.node} does not answer (${err.message})`,
        `start it with \`vlx vc start ${up.vc}\``, { vc: up.vc, vm: up.vm, node: loc.node });
    }
    if (up.viewers.size === 0) {
      stream.destroy();
      return;
    }
    up.node = loc.node;
    up.stream = stream;
    up.decoder = new StringDecoder('utf8');
    stream.on('data', (b: Buffer) => {
      if (up.stream !== stream) return;
      up.reattaches = 0;
      const s = up.decoder.write(b);
      if (!s) return;
      up.scrollback.push(s);
      for (const v of up.viewers) this.deliver(v, s);
    });
    let error: string | undefined;
    stream.on('error', (e: Error) => { error = e.message; });
    const lost = () => {
      if (up.stream !== stream) return;
      void this.serialLost(up, error);
    };
    stream.once('close', lost);
    stream.once('end', lost);
  }

  private dropSerial(up: SerialUpstream): void {
    if (this.serials.get(up.key) === up) this.serials.delete(up.key);
    const s = up.stream;
    up.stream = undefined;
    s?.destroy();
  }

  /**
   * The serial stream ended without us closing it: QEMU quit, the VM migrated away, or
   * the node went. Looking the VM up again tells them apart; when it runs somewhere, the
   * viewers are re-attached there without noticing more than a note.
   */
  private async serialLost(up: SerialUpstream, error: string | undefined): Promise<void> {
    const s = up.stream;
    up.stream = undefined;
    s?.destroy();
    const tail = up.decoder.end();
    if (tail) {
      up.scrollback.push(tail);
      for (const v of up.viewers) this.deliver(v, tail);
    }
    if (up.viewers.size === 0) { this.dropSerial(up); return; }
    const before = up.node;
    let exit: TerminalExit;
    if (up.reattaches < MAX_REATTACH) {
      up.reattaches++;
      try {
        up.attaching = this.attachSerial(up);
        await up.attaching;
        if (up.node !== before) {
          const note = `\r\n[console of ${up.vc}/${up.vm} now on node ${up.node}]\r\n`;
          for (const v of up.viewers) this.deliver(v, note);
        }
        return;
      } catch (e) {
        exit = exitFromError(e, before);
      } finally {
        up.attaching = undefined;
      }
    } else {
      exit = connectionLost(error ?? 'the serial console keeps closing');
    }
    const viewers = [...up.viewers];
    up.viewers.clear();
    this.dropSerial(up);
    for (const v of viewers) this.end(v, exit);
  }
}

function serialKey(t: ConsoleTarget): string {
  return isVmTarget(t) ? `${t.vc}/${t.vm}` : '';
}

function checkSize(s: TermSize): TermSize {
  return { rows: checkInt(s?.rows, 'rows', 2, 500), cols: checkInt(s?.cols, 'cols', 10, 1000) };
}

/** What a failed (re)attach means for a person looking at the terminal. */
export function exitFromError(e: unknown, node?: string): TerminalExit {
  const err = asVlxError(e);
  const unreachable = Array.isArray(err.details?.unreachable) ? (err.details.unreachable as unknown[]) : [];
  if (node && unreachable.includes(node)) return NODE_UNREACHABLE;
  if (err.code === 'conflict') return VM_STOPPED;
  if (err.code === 'unreachable' || err.code === 'timeout') return NODE_UNREACHABLE;
  return connectionLost(err.message);
}
