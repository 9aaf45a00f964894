import type { Envelope } from './contract.js';

/**
 * The browser bridge's WebSocket messages. The socket itself was admitted by the session
 * cookie and the Host and Origin checks at upgrade, so every message after that is a call.
 */
export type ClientMessage = { t: 'call'; id: number; channel: string; input: unknown };

export type ServerMessage =
  | { t: 'ready' }
  | { t: 'result'; id: number; envelope: Envelope<unknown> }
  | { t: 'event'; name: string; payload: unknown }
  | { t: 'refused'; reason: string };

export const API_PATH = '/api';
/** Where a one-time code is traded for a session cookie: /auth?code=… */
export const AUTH_PATH = '/auth';

/**
 * The session cookie's name carries the bridge's port: cookies ignore ports, so a fixed name
 * would let a server on another local port shadow or overwrite ours.
 */
export function sessionCookieName(port: number): string {
  return `vlx_session_${port}`;
}

/** The largest WebSocket frame the bridge reads; a bigger one closes that socket with 1009. */
export const MAX_FRAME_BYTES = 4 << 20;

/**
 * Terminal input is sent in pieces of at most this many UTF-16 units. The contract allows
 * 1 Mi per terminal.write; a quarter of it stays under MAX_FRAME_BYTES even when JSON turns
 * every unit into a six-byte escape.
 */
export const TERMINAL_WRITE_CHUNK = 1 << 18;
