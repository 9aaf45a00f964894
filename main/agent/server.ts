import { createServer, type Server, type Socket } from 'node:net';
import { chmodSync, existsSync, mkdirSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import { connect } from 'node:net';
import { VlxError } from '../errors.js';
import { createDispatch } from '../api/dispatch.js';
import type { AppServices } from '../api/methods.js';
import { readLines, type AgentMessage, type AgentRequest } from './protocol.js';

/**
 * Serve the contract on the agent socket for CLI runs of the same user: a `vlx` command
 * attaches and its calls run here, on connections that are already warm (OpenSSH's
 * ControlMaster does the same for ssh). Every line is validated by the same dispatcher as
 * every other face; a bad line is dropped, a bad peer disconnected, and the agent goes on.
 */
export interface Agent {
  path: string;
  clients(): number;
  close(): Promise<void>;
}

/** A socket file nobody answers on (an agent that died) is removed; a live one is refused. */
async function claim(path: string): Promise<void> {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  if (!existsSync(path)) return;
  const alive = await new Promise<boolean>((resolve) => {
    const s = connect(path);
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
  if (alive) throw new VlxError('conflict', `an agent already serves ${path}`, 'stop it first (`vlx agent stop`), or use it: vlx commands attach to it by themselves');
  unlinkSync(path);
}

export async function startAgent(services: AppServices, path: string): Promise<Agent> {
  await claim(path);
  const dispatch = createDispatch(services, { timeoutMs: 2 ** 31 - 1, slowTimeoutMs: 2 ** 31 - 1 });
  const socks = new Set<Socket>();
  const send = (sock: Socket, m: AgentMessage) => {
    if (!sock.destroyed) sock.write(JSON.stringify(m) + '\n');
  };
  const off = services.events.subscribe((name, payload) => {
    for (const s of socks) send(s, { t: 'event', name, payload });
  });
  const server: Server = createServer((sock) => {
    socks.add(sock);
    sock.setNoDelay(true);
    readLines(sock, (line) => {
      let req: AgentRequest;
      try { req = JSON.parse(line) as AgentRequest; } catch { return; }
      if (typeof req !== 'object' || req === null || req.t !== 'call' || !Number.isSafeInteger(req.id)) return;
      void dispatch(req.channel, req.input).then((envelope) => send(sock, { t: 'result', id: req.id, envelope }));
    });
    sock.on('error', () => sock.destroy());
    sock.on('close', () => socks.delete(sock));
  });
  server.on('error', () => { /* a failed accept must not end the agent */ });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => { server.off('error', reject); resolve(); });
  });
  chmodSync(path, 0o600);
  return {
    path,
    clients: () => socks.size,
    async close() {
      off();
      for (const s of socks) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      try { unlinkSync(path); } catch { /* already gone */ }
    },
  };
}
