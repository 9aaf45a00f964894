import type { Duplex } from 'node:stream';
import { VlxError } from '../errors.js';
import { NONCE_LENGTH, SERIAL_COMMAND_MAX, wrapCommand } from '../domain/consoleCommand.js';

/** Marker the tiny guest prints on its console once eth0 is configured (see images/tinyInit.ts). */
export const READY_MARKER = 'vlx-guest-ready';
/**
 * The line the tiny guest prints just before the marker: its own clock (seconds of uptime) at
 * each stage of its init, `-` for a stage it skipped.
 */
export const GUEST_TIMES_MARKER = 'vlx-guest-times';
/** What a warm-start template prints every second while it waits for its identity (main/vm/warmStart.ts). */
export const WARM_WAIT_MARKER = 'vlx-warm-waiting';
/** The first word of an identity line: the waiting guest takes only a line with it. */
export const WARM_IDENTITY_TAG = 'vlx-identity';

export interface GuestTimes {
  /** Seconds of uptime when the guest's init began, or, warm-started, when it got its identity. */
  init: number;
  net: number;
  shared?: number;
  ready: number;
  /** A warm start: the guest's clock ran on from its template, so only differences to `init` mean anything. */
  warm?: boolean;
}

/** The last stage-times line in a console's output, undefined when there is none (other guests). */
export function parseGuestTimes(output: string): GuestTimes | undefined {
  const re = new RegExp(`${GUEST_TIMES_MARKER} init=(\\d+\\.\\d+) net=(\\d+\\.\\d+) shared=(\\d+\\.\\d+|-) ready=(\\d+\\.\\d+)( from=identity)?`, 'g');
  let last: RegExpExecArray | undefined;
  for (let m = re.exec(output); m; m = re.exec(output)) last = m;
  if (!last) return undefined;
  return { init: Number(last[1]), net: Number(last[2]), ...(last[3] === '-' ? {} : { shared: Number(last[3]) }), ready: Number(last[4]), ...(last[5] ? { warm: true } : {}) };
}

/** What a start logs for a guest that printed its marker: with its stage times when it printed them. */
export function readyNote(output: string): string {
  const times = parseGuestTimes(output);
  return times ? `guest ready; ${guestTimesNote(times)}` : 'guest ready';
}

/** The stage times for a start's log. */
export function guestTimesNote(t: GuestTimes): string {
  if (t.warm) {
    const after = (x: number): string => `+${Math.max(0, x - t.init).toFixed(2)} s`;
    return `warm start; guest clock from its identity: network ${after(t.net)}${t.shared === undefined ? '' : `, shared mounted ${after(t.shared)}`}, ready ${after(t.ready)}`;
  }
  const shared = t.shared === undefined ? '' : `, shared mounted ${t.shared.toFixed(2)} s`;
  return `guest clock: init ${t.init.toFixed(2)} s, network ${t.net.toFixed(2)} s${shared}, ready ${t.ready.toFixed(2)} s`;
}

/**
 * A VM's serial console as a line-oriented reader for automation (readiness, probes,
 * tests). The serial socket takes one client at a time, so an automation client must
 * be closed before a person's console attaches.
 */
export class SerialConsole {
  private text = '';
  /** Everything before this offset has been consumed by an earlier wait. */
  private mark = 0;
  private waiters = new Set<() => void>();
  private ended: Error | undefined;
  private static readonly KEEP = 1 << 20;

  constructor(private readonly stream: Duplex, readonly label = 'serial') {
    stream.on('data', (c: Buffer | string) => this.onData(String(c)));
    const end = (): void => {
      this.ended ??= new VlxError('remote-failed', `${label}: console closed`);
      this.wake();
    };
    stream.on('close', end);
    stream.on('end', end);
    stream.on('error', (e: Error) => {
      this.ended = new VlxError('remote-failed', `${label}: console error: ${e.message}`);
      this.wake();
    });
  }

  private onData(s: string): void {
    this.text += s;
    if (this.text.length > SerialConsole.KEEP) {
      const drop = this.text.length - SerialConsole.KEEP;
      this.text = this.text.slice(drop);
      this.mark = Math.max(0, this.mark - drop);
    }
    this.wake();
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  /** All output seen so far (up to the last MiB). */
  get output(): string {
    return this.text;
  }

  /** Wait for the pattern in output not yet consumed; consumes up to the end of the match. */
  waitFor(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const check = (): boolean => {
        const rest = this.text.slice(this.mark);
        const m = rest.match(pattern);
        if (m && m.index !== undefined) {
          this.mark += m.index + m[0].length;
          done();
          resolve(m);
          return true;
        }
        if (this.ended) {
          done();
          reject(this.ended);
          return true;
        }
        return false;
      };
      const timer = setTimeout(() => {
        done();
        const tail = this.text.slice(-400).replace(/\r/g, '');
        reject(new VlxError('timeout', `${this.label}: ${pattern} not seen within ${timeoutMs} ms; console ended with: ${JSON.stringify(tail.slice(-200))}`, undefined, { tail }));
      }, timeoutMs);
      const waiter = (): void => void check();
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(waiter);
      };
      this.waiters.add(waiter);
      check();
    });
  }

  write(s: string): void {
    this.stream.write(s);
  }

  /**
   * Run a shell command in the guest's console shell and return what it printed. A nonce
   * brackets the output so the echoed command line is never mistaken for its result.
   */
  async run(command: string, timeoutMs = 30_000): Promise<{ code: number; output: string }> {
    if (command.length > SERIAL_COMMAND_MAX) {
      throw new VlxError('invalid-input', `command: must be at most ${SERIAL_COMMAND_MAX} characters to type into a console shell (got ${command.length})`);
    }
    const nonce = Math.random().toString(36).slice(2, 2 + NONCE_LENGTH).padEnd(NONCE_LENGTH, '0');
    this.write(wrapCommand(command, nonce));
    // Preceded by \n, or by \r when bash ends bracketed-paste mode (ESC[?2004l\r) first.
    await this.waitFor(new RegExp(`[\\r\\n]vlxbegin-${nonce}\\r?\\n`), timeoutMs);
    const m = await this.waitFor(new RegExp(`([\\s\\S]*?)vlxend-${nonce}-(\\d+)`), timeoutMs);
    return { code: Number(m[2]), output: m[1].replace(/\r/g, '') };
  }

  close(): void {
    this.stream.destroy();
  }
}
