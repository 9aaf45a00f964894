import { VlxError, asVlxError, type ErrorCode } from '../errors.js';

/** Exit codes scripts can rely on (also listed in the README). */
export const EXIT: Record<ErrorCode | 'ok', number> = {
  ok: 0,
  'remote-failed': 1,
  internal: 1,
  db: 1,
  'invalid-input': 2,
  'not-found': 3,
  conflict: 4,
  placement: 4,
  unreachable: 5,
  timeout: 5,
  'host-key-unknown': 6,
  'host-key-changed': 6,
  'auth-failed': 6,
  'not-root': 7,
  'missing-tool': 7,
  cancelled: 8,
};

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

/** How a command names the contract's fields on its command line: `memMb` → `--mem-mb`. */
export type FlagNames = Readonly<Record<string, string>>;

/**
 * An error names the contract field it is about ("memMb: must be …", "vms.0.vm: …"); a person
 * at a terminal typed a flag, so the CLI says the flag. Each `; `-separated part is translated. Pure.
 */
export function translateFields(message: string, flags: FlagNames): string {
  return message.split('; ').map((part) => {
    const m = /^([A-Za-z][A-Za-z0-9]*)((?:\.[A-Za-z0-9]+)*): /.exec(part);
    if (!m || !Object.prototype.hasOwnProperty.call(flags, m[1]!)) return part;
    return `${flags[m[1]!]}: ${part.slice(m[0].length)}`;
  }).join('; ');
}

/** Print an error the way a person (or, with --json, a script) can act on, and set the exit code. */
export function reportError(e: unknown, json: boolean, flags: FlagNames = {}): number {
  const raw = asVlxError(e);
  const err = json ? raw : new VlxError(raw.code, translateFields(raw.message, flags), raw.hint);
  if (json) {
    process.stdout.write(JSON.stringify({ error: err.toJSON() }) + '\n');
  } else {
    process.stderr.write(`vlx: error: ${err.message}\n`);
    if (err.hint) process.stderr.write(`  hint: ${err.hint}\n`);
  }
  if (process.env.VLX_DEBUG && e instanceof Error && e.stack) process.stderr.write(e.stack + '\n');
  return EXIT[err.code] ?? 1;
}

/** A progress line for long work: on a TTY it rewrites itself, elsewhere one line per update. */
export function progressLine(text: string): void {
  if (process.stderr.isTTY) process.stderr.write(`\r\x1b[K${text}`);
  else process.stderr.write(text + '\n');
}
export function progressDone(): void {
  if (process.stderr.isTTY) process.stderr.write('\n');
}

/**
 * Wrap a command action: errors become messages (fields named by their flags) and exit
 * codes, never stack traces; the in-process client (SSH sessions, database) is closed after.
 */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<number | void>, flags: FlagNames = {}) {
  return async (...args: A): Promise<void> => {
    const cmd = args[args.length - 1] as { optsWithGlobals?: () => Record<string, unknown> } | undefined;
    const json = Boolean(cmd?.optsWithGlobals?.().json);
    try {
      const code = await fn(...args);
      process.exitCode = code ?? 0;
    } catch (e) {
      process.exitCode = reportError(e, json, flags);
    } finally {
      const { closeCli } = await import('./client.js');
      await closeCli().catch(() => undefined);
    }
  };
}

/** A flag's text as a whole number for the contract; anything else goes as typed, for the contract to refuse by name. */
export function num(v: string | undefined): number | string | undefined {
  return v !== undefined && /^-?\d{1,15}$/.test(v.trim()) ? Number(v) : v;
}
