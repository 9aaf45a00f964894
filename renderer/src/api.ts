import { createClient, type Client, type Transport } from '../../main/api/client.js';

/**
 * The one client the stores use. Set once at boot (or by a test) from whichever transport
 * this face has; stores never know which one it is.
 */
let client: Client | undefined;

export function setTransport(t: Transport): Client {
  client = createClient(t);
  return client;
}

export function api(): Client {
  if (!client) throw new Error('the API client is not set up yet');
  return client;
}

/**
 * A hint written for the terminal ("run `vlx db deploy --node NODE`") means nothing in a
 * window: the screens leave it out rather than show a command line or a flag.
 */
export function cliOnly(hint: string): boolean {
  return /`vlx\b|(^|[\s(])--[a-z][a-z-]*/.test(hint);
}

/** A caught error as the screens show it. */
export interface ShownError {
  code: string;
  message: string;
  hint?: string;
}

export function shown(e: unknown): ShownError {
  if (e && typeof e === 'object' && 'message' in e) {
    const o = e as { code?: unknown; message: unknown; hint?: unknown };
    return {
      code: typeof o.code === 'string' ? o.code : 'internal',
      message: String(o.message),
      ...(typeof o.hint === 'string' && !cliOnly(o.hint) ? { hint: o.hint } : {}),
    };
  }
  return { code: 'internal', message: String(e) };
}
