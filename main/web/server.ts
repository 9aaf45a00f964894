import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { AppServices } from '../api/methods.js';
import { createDispatch } from '../api/dispatch.js';
import { API_PATH, TOKEN_COOKIE, type ClientMessage, type ServerMessage } from './protocol.types.js';

/**
 * The contract over HTTP + WebSocket for a browser on this machine. Three locks on the door:
 * it listens on 127.0.0.1 only; every request carries the random token (query on the first
 * request, then an HttpOnly SameSite=Strict cookie); the Host and Origin must be this very
 * bridge, which stops other pages and DNS-rebinding tricks from reaching /api.
 */
export interface WebBridgeOptions {
  services: AppServices;
  port?: number;
  /** The built renderer; default dist/renderer next to the package. */
  rendererDir?: string;
  timeoutMs?: number;
}

export interface WebBridge {
  /** Open this in a browser: it carries the token once, then the cookie does. */
  url: string;
  origin: string;
  port: number;
  token: string;
  close(): Promise<void>;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
  '.json': 'application/json',
  '.map': 'application/json',
};

function sameSecret(a: string | undefined, b: string): boolean {
  if (typeof a !== 'string') return false;
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function cookie(req: IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return decodeURIComponent(v.join('='));
  }
  return undefined;
}

export async function startWebBridge(opts: WebBridgeOptions): Promise<WebBridge> {
  const token = randomBytes(24).toString('base64url');
  const rendererDir = resolve(opts.rendererDir ?? process.env.VLX_RENDERER_DIR ?? findRendererDir());
  const dispatch = createDispatch(opts.services, opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {});
  let origin = '';
  let host = '';

  const csp = () => [
    "default-src 'self'", "script-src 'self'", "style-src 'self' 'unsafe-inline'", `connect-src 'self' ws://${host}`,
    "img-src 'self' data:", "font-src 'self' data:", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'", "form-action 'none'",
  ].join('; ');

  const refuse = (res: ServerResponse, status: number, text: string) => {
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
    res.end(text + '\n');
  };

  const server = createServer(async (req, res) => {
    try {
      if (req.headers.host !== host) return refuse(res, 421, 'wrong host');
      const url = new URL(req.url ?? '/', origin);
      if (url.searchParams.has('token')) {
        if (!sameSecret(url.searchParams.get('token') ?? undefined, token)) return refuse(res, 403, 'bad token');
        // Trade the token in the URL for a cookie, and drop it from the address bar and history.
        res.writeHead(303, {
          location: '/',
          'set-cookie': `${TOKEN_COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/`,
          'cache-control': 'no-store',
        });
        return res.end();
      }
      if (!sameSecret(cookie(req, TOKEN_COOKIE), token)) return refuse(res, 403, 'open the URL that `vlx gui` printed');
      if (req.method !== 'GET' && req.method !== 'HEAD') return refuse(res, 405, 'method not allowed');
      await serveStatic(url.pathname, res);
    } catch (e) {
      refuse(res, 500, e instanceof Error ? e.message : String(e));
    }
  });

  async function serveStatic(pathname: string, res: ServerResponse) {
    const rel = normalize(decodeURIComponent(pathname)).replace(/^([/\\])+/, '');
    let file = join(rendererDir, rel || 'index.html');
    if (!file.startsWith(rendererDir + sep) && file !== rendererDir) return refuse(res, 404, 'not found');
    let info = await stat(file).catch(() => undefined);
    if (info?.isDirectory()) { file = join(file, 'index.html'); info = await stat(file).catch(() => undefined); }
    if (!info) {
      if (rel === '' || rel === 'index.html') return refuse(res, 503, `the renderer is not built (${rendererDir}): run node scripts/build.mjs renderer`);
      return refuse(res, 404, 'not found');
    }
    const body = await readFile(file);
    res.writeHead(200, {
      'content-type': TYPES[extname(file)] ?? 'application/octet-stream',
      'content-security-policy': csp(),
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      'cache-control': 'no-store',
    });
    res.end(body);
  }

  const wss = new WebSocketServer({ noServer: true, maxPayload: 4 << 20 });
  server.on('upgrade', (req, socket, head) => {
    const ok = req.headers.host === host && req.headers.origin === origin
      && sameSecret(cookie(req, TOKEN_COOKIE), token) && new URL(req.url ?? '/', origin).pathname === API_PATH;
    if (!ok) {
      socket.end('HTTP/1.1 403 Forbidden\r\nconnection: close\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => attach(ws));
  });

  const sockets = new Set<WebSocket>();
  function attach(ws: WebSocket) {
    sockets.add(ws);
    const send = (m: ServerMessage) => { if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(m)); };
    const unsubscribe = opts.services.events.subscribe((name, payload) => send({ t: 'event', name, payload }));
    ws.on('message', async (raw) => {
      let msg: ClientMessage;
      try { msg = JSON.parse(String(raw)); } catch { return send({ t: 'refused', reason: 'not JSON' }); }
      if (msg?.t !== 'call' || typeof msg.id !== 'number') return send({ t: 'refused', reason: 'unknown message' });
      send({ t: 'result', id: msg.id, envelope: await dispatch(msg.channel, msg.input) });
    });
    ws.on('close', () => { unsubscribe(); sockets.delete(ws); });
    send({ t: 'ready' });
  }

  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(opts.port ?? 0, '127.0.0.1', () => ok());
  });
  const port = (server.address() as AddressInfo).port;
  host = `127.0.0.1:${port}`;
  origin = `http://${host}`;

  return {
    url: `${origin}/?token=${token}`,
    origin,
    port,
    token,
    async close() {
      for (const ws of sockets) ws.close(1001, 'bridge closing');
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((ok) => server.close(() => ok()));
    },
  };
}

/** dist/renderer at the package root, whether we run from source (main/web) or from the bundle (dist/). */
function findRendererDir(): string {
  let dir = import.meta.dirname;
  for (let i = 0; i < 5; i++) {
    if (existsSync(join(dir, 'package.json'))) return join(dir, 'dist', 'renderer');
    dir = resolve(dir, '..');
  }
  return resolve(import.meta.dirname, '..', '..', 'dist', 'renderer');
}
