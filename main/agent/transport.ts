import { connect, type Socket } from 'node:net';
import type { Transport } from '../api/client.js';
import type { Envelope } from '../api/contract.js';
import { readLines, type AgentMessage, type AgentRequest } from './protocol.js';

/**
 * The CLI's transport to a running agent (or app): the same contract calls, over the agent's
 * socket, so a command reuses the agent's warm SSH connections instead of making its own.
 * Resolves undefined when no agent answers (no socket, or a stale one): the CLI then serves
 * itself in process.
 */
export function connectAgent(path: string, timeoutMs = 300): Promise<(Transport & { close(): void }) | undefined> {
  return new Promise((resolve) => {
    const sock: Socket = connect(path);
    const timer = setTimeout(() => { sock.destroy(); resolve(undefined); }, timeoutMs);
    sock.once('error', () => { clearTimeout(timer); resolve(undefined); });
    sock.once('connect', () => {
      clearTimeout(timer);
      sock.removeAllListeners('error');
      resolve(agentTransport(sock));
    });
  });
}

function agentTransport(sock: Socket): Transport & { close(): void } {
  const pending = new Map<number, (e: Envelope<unknown>) => void>();
  const listeners = new Set<(name: string, payload: unknown) => void>();
  let nextId = 1;
  let closed = false;
  const fail = (message: string) => {
    closed = true;
    for (const [, done] of pending) done({ ok: false, error: { code: 'unreachable', message } });
    pending.clear();
  };
  sock.setNoDelay(true);
  readLines(sock, (line) => {
    let m: AgentMessage;
    try { m = JSON.parse(line) as AgentMessage; } catch { return; }
    if (m.t === 'result') {
      pending.get(m.id)?.(m.envelope as Envelope<unknown>);
      pending.delete(m.id);
    } else if (m.t === 'event') for (const l of listeners) l(m.name, m.payload);
  });
  sock.on('error', () => fail('the agent closed the connection'));
  sock.on('close', () => fail('the agent closed the connection'));
  return {
    invoke(channel, input) {
      if (closed) return Promise.resolve({ ok: false, error: { code: 'unreachable', message: 'the agent closed the connection' } });
      const id = nextId++;
      const req: AgentRequest = { t: 'call', id, channel, input };
      return new Promise((resolve) => {
        pending.set(id, resolve);
        sock.write(JSON.stringify(req) + '\n');
      });
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => { listeners.delete(listener); };
    },
    close() {
      closed = true;
      sock.end();
      sock.destroy();
    },
  };
}
