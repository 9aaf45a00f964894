import { createHash, randomBytes } from 'node:crypto';

/**
 * Who may use the bridge. A launch gets a one-time code (valid CODE_TTL_MS, spent by its
 * first use); /auth trades it for a random session id kept in an HttpOnly cookie. Only
 * hashes are stored and looked up, so a lookup's timing says nothing about a secret.
 */
export const CODE_TTL_MS = 60_000;
/** Enough for a window and a few reloads of it; the oldest session goes first. */
const MAX_SESSIONS = 32;

export type CodeOutcome = 'used' | 'expired';

export interface OneTimeCode {
  code: string;
  expiresAt: number;
  /** Settles when the code is spent or has expired (or the bridge closed): the moment to delete any copy of it. */
  settled: Promise<CodeOutcome>;
}

export type SessionCheck = 'ok' | 'none' | 'duplicate' | 'unknown';

const digest = (s: string) => createHash('sha256').update(s).digest('hex');
const SECRET = /^[A-Za-z0-9_-]{16,128}$/;

/**
 * Every value the Cookie header gives `name`, without decoding (our values are base64url).
 * Node joins repeated Cookie headers with "; ", so a planted second copy shows up here too.
 */
export function cookieValues(header: string | undefined, name: string): string[] {
  const out: string[] = [];
  if (typeof header !== 'string') return out;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) out.push(part.slice(eq + 1).trim());
  }
  return out;
}

export class Sessions {
  private readonly codes = new Map<string, { expiresAt: number; timer: NodeJS.Timeout; settle: (o: CodeOutcome) => void }>();
  private readonly sessions = new Set<string>();

  constructor(private readonly ttlMs = CODE_TTL_MS) {}

  mintCode(): OneTimeCode {
    const code = randomBytes(24).toString('base64url');
    const key = digest(code);
    const expiresAt = Date.now() + this.ttlMs;
    let settle!: (o: CodeOutcome) => void;
    const settled = new Promise<CodeOutcome>((ok) => { settle = ok; });
    const timer = setTimeout(() => this.spend(key, 'expired'), this.ttlMs);
    timer.unref();
    this.codes.set(key, { expiresAt, timer, settle });
    return { code, expiresAt, settled };
  }

  /** The new session's id for a live code, once; undefined for anything else. */
  redeem(code: unknown): string | undefined {
    if (typeof code !== 'string' || !SECRET.test(code)) return undefined;
    const key = digest(code);
    const entry = this.codes.get(key);
    if (!entry) return undefined;
    if (Date.now() > entry.expiresAt) { this.spend(key, 'expired'); return undefined; }
    this.spend(key, 'used');
    const session = randomBytes(32).toString('base64url');
    this.sessions.add(digest(session));
    while (this.sessions.size > MAX_SESSIONS) this.sessions.delete(this.sessions.values().next().value!);
    return session;
  }

  /** Exactly one cookie of that name, holding a live session; two copies mean one was planted. */
  check(cookieHeader: string | undefined, name: string): SessionCheck {
    const values = cookieValues(cookieHeader, name);
    if (values.length === 0) return 'none';
    if (values.length > 1) return 'duplicate';
    const v = values[0]!;
    return SECRET.test(v) && this.sessions.has(digest(v)) ? 'ok' : 'unknown';
  }

  /** Expire every code still waiting (the bridge is closing). */
  close(): void {
    for (const key of [...this.codes.keys()]) this.spend(key, 'expired');
  }

  private spend(key: string, outcome: CodeOutcome): void {
    const entry = this.codes.get(key);
    if (!entry) return;
    this.codes.delete(key);
    clearTimeout(entry.timer);
    entry.settle(outcome);
  }
}
