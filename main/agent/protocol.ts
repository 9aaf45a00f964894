import { join } from 'node:path';
import type { Socket } from 'node:net';
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

/**
 * Call onLine for each whole line the socket brings (both ends of the agent socket read this
 * way); a peer that sends more than MAX_LINE_BYTES without a newline is cut off.
 */
export function readLines(sock: Socket, onLine: (line: string) => void): void {
  let buf = '';
  sock.setEncoding('utf8');
  sock.on('data', (chunk: string) => {
    buf += chunk;
    if (buf.length > MAX_LINE_BYTES && !buf.includes('\n')) { sock.destroy(); return; }
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      onLine(line);
    }
  });
}
