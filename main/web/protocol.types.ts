import type { Envelope } from '../api/contract.js';

/**
 * The browser bridge's WebSocket messages. The socket itself was admitted by the token
 * cookie and the Origin check at upgrade, so every message after that is a call.
 */
export type ClientMessage = { t: 'call'; id: number; channel: string; input: unknown };

export type ServerMessage =
  | { t: 'ready' }
  | { t: 'result'; id: number; envelope: Envelope<unknown> }
  | { t: 'event'; name: string; payload: unknown }
  | { t: 'refused'; reason: string };

/** The cookie that carries the token after the first request (HttpOnly: the page never sees it). */
export const TOKEN_COOKIE = 'vlx_token';
export const API_PATH = '/api';
