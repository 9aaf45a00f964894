/**
 * Every failure that reaches a person carries a machine-readable code, the thing that
 * failed and, where we know it, what to do about it. Callers across the process boundary
 * turn this into an envelope `{ok:false, error:{code,message,hint}}`.
 */
export type ErrorCode =
  | 'invalid-input'      // a field broke its rule; message names the field and the rule
  | 'not-found'
  | 'conflict'           // already exists / overlaps / locked by another task
  | 'not-root'
  | 'missing-tool'
  | 'unreachable'        // no node answered
  | 'host-key-unknown'   // first contact: fingerprint must be accepted
  | 'host-key-changed'   // a known host presented another key: refused
  | 'auth-failed'
  | 'remote-failed'      // a command on a node exited non-zero
  | 'timeout'
  | 'cancelled'
  | 'placement'          // the policy cannot place the VC (shortfall named)
  | 'db'
  | 'internal';

export class VlxError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly hint?: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'VlxError';
  }

  toJSON(): { code: ErrorCode; message: string; hint?: string } {
    return { code: this.code, message: this.message, ...(this.hint ? { hint: this.hint } : {}) };
  }
}

export function invalid(field: string, rule: string, value?: unknown): VlxError {
  const shown = value === undefined ? '' : ` (got ${JSON.stringify(value)})`;
  return new VlxError('invalid-input', `${field}: ${rule}${shown}`);
}

/** Normalise anything thrown into a VlxError without losing a code we already had. */
export function asVlxError(e: unknown): VlxError {
  if (e instanceof VlxError) return e;
  const msg = e instanceof Error ? e.message : String(e);
  return new VlxError('internal', msg);
}
