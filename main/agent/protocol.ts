import { join } from 'node:path';
import { appHome } from '../config/paths.js';

/**
 * The local agent's socket: one JSON message per line, the contract's calls and events.
 * It lives in the app home (the user's own 0700 directory) with mode 0600, so only the
 * user who runs the app can attach: the same trust as the app's config and keys.
 */
export type AgentRequest = { t: 'call'; id: number; channel: string; input: unknown };
export type AgentMessage =
  | { t: 'result'; id: number; envelope: { ok: boolean; value?: unknown; error?: { code: string; message: string; hint?: string } } }
  | { t: 'event'; name: string; payload: unknown };

export function agentSocketPath(): string {
  return join(appHome(), 'agent.sock');
}

/** One line may carry a whole terminal paste (the contract's 1 Mi per write, JSON-escaped). */
export const MAX_LINE_BYTES = 8 * 1024 * 1024;
