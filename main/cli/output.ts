import { asVlxError, type ErrorCode } from '../errors.js';

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

/** Print an error the way a person (or, with --json, a script) can act on, and set the exit code. */
export function reportError(e: unknown, json: boolean): number {
  const err = asVlxError(e);
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

/** Wrap a command action: errors become messages and exit codes, never stack traces. */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<number | void>) {
  return async (...args: A): Promise<void> => {
    const cmd = args[args.length - 1] as { optsWithGlobals?: () => Record<string, unknown> } | undefined;
    const json = Boolean(cmd?.optsWithGlobals?.().json);
    try {
      const code = await fn(...args);
      process.exitCode = code ?? 0;
    } catch (e) {
      process.exitCode = reportError(e, json);
    }
  };
}
