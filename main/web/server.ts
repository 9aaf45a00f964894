import { createServer, STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { AppServices } from '../api/methods.js';
import { createDispatch } from '../api/dispatch.js';
import { API_PATH, AUTH_PATH, MAX_FRAME_BYTES, sessionCookieName } from '../api/wire.js';
import { CODE_TTL_MS, Sessions, type CodeOutcome } from './auth.js';
import { serveStatic } from './static.js';
import { attachSocket } from './socket.js';

/**
 * The contract over HTTP + WebSocket for a browser on this machine. The locks on the door:
 * it listens on 127.0.0.1 only; a launch carries a one-time code (60 s, one use) that /auth
 * trades for a session cookie named after this port; the Host and Origin must be this very
 * bridge, which stops other pages and DNS-rebinding tricks from reaching /api. Every
 * listener catches what it meets: a bad request or frame costs that request or socket only.
 */
export interface WebBridgeOptions {
  services: AppServices;
  port?: number;
  /** The built renderer; default dist/renderer next to the package. */
  rendererDir?: string;
  timeoutMs?: number;
  /** How long a one-time code lives (default 60 s; tests shorten it). */
  codeTtlMs?: number;
}

export interface LoginLink {
  /** http://127.0.0.1:PORT/auth?code=…: good for one use within the code's lifetime. */
  url: string;
  expiresAt: number;
  /** Settles when the code was used or expired: the moment to delete any copy of the link. */
  settled: Promise<CodeOutcome>;
}

export interface WebBridge {
  origin: string;
  port: number;
  /** The session cookie's name (it carries the port). */
  cookieName: string;
  /** A fresh one-time sign-in link. Never put it on a command line: `ps` shows those to every user. */
  newLogin(): LoginLink;
  close(): Promise<void>;
}

const REUSED = 'this sign-in link was already used or has expired (each link works once, within 60 s): '
  + 'press Enter in the terminal running `vlx gui` for a new one';

export async function startWebBridge(opts: WebBridgeOptions): Promise<WebBridge> {
  const rendererDir = resolve(opts.rendererDir ?? process.env.VLX_RENDERER_DIR ?? findRendererDir());
  const dispatch = createDispatch(opts.services, opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {});
  const sessions = new Sessions(opts.codeTtlMs ?? CODE_TTL_MS);
  let origin = '';
  let host = '';
  let cookieName = '';

  const csp = () => [
    "default-src 'self'", "script-src 'self'", "style-src 'self' 'unsafe-inline'", `connect-src 'self' ws://${host}`,
    "img-src 'self' data:", "font-src 'self' data:", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'", "form-action 'none'",
  ].join('; ');

  const refuse = (res: ServerResponse, status: number, text: string) => {
    if (res.headersSent) { res.destroy(); return; }
    // Closing the connection spares reading whatever body a refused request still sends.
    res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', connection: 'close' });
    res.end(text + '\n');
  };
  const signIn = () => `open the one-time sign-in page that \`vlx gui\` prints (Enter there prints a new one): the cookie ${cookieName} is missing or unknown`;
  const planted = () => `the cookie ${cookieName} came twice: another local server may have planted one; clear this site's cookies and open a new link from \`vlx gui\``;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.headers.host !== host) return refuse(res, 421, 'wrong host: this bridge answers only to ' + host);
    const url = requestUrl(req.url);
    if (!url) return refuse(res, 400, 'path: not a valid request path');
    if (url.pathname === AUTH_PATH) {
      // GET only: a HEAD (a link preview, a probe) must not spend the code.
      if (req.method !== 'GET') return refuse(res, 405, 'method not allowed');
      const session = sessions.redeem(url.searchParams.get('code'));
      if (!session) return refuse(res, 403, REUSED);
      // Trade the code for a cookie, and drop the code from the address bar.
      const headers = { 'set-cookie': `${cookieName}=${session}; HttpOnly; SameSite=Strict; Path=/`, 'cache-control': 'no-store', 'referrer-policy': 'no-referrer' };
      if (req.headers['sec-fetch-site'] !== 'cross-site') {
        res.writeHead(303, { ...headers, location: '/' });
        return void res.end();
      }
      // Arriving from the file:// launch page: a browser does not send a SameSite=Strict cookie
      // along a redirect chain that began on another site, so this page starts a new, same-site
      // navigation instead of redirecting.
      res.writeHead(200, { ...headers, 'content-type': 'text/html; charset=utf-8', 'content-security-policy': "default-src 'none'" });
      return void res.end('<!doctype html><meta charset="utf-8"><meta http-equiv="refresh" content="0;url=/"><title>VirtuaLinux Manager</title><p>Signed in; opening the app…</p>\n');
    }
    const check = sessions.check(req.headers.cookie, cookieName);
    if (check === 'duplicate') return refuse(res, 400, planted());
    if (check !== 'ok') return refuse(res, 403, signIn());
    if (req.method !== 'GET' && req.method !== 'HEAD') return refuse(res, 405, 'method not allowed');
    await serveStatic(rendererDir, url.pathname, res, csp(), refuse);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((e: unknown) => refuse(res, 500, e instanceof Error ? e.message : String(e)));
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    // Node's own parser refused the bytes (bad request line, headers too large): say so and close.
    if (!socket.writable || err.code === 'ECONNRESET') return void socket.destroy();
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
    socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
  });

  // CONNECT (a proxy's verb) arrives here, not at the handler; Node would drop it without a word.
  server.on('connect', (_req: IncomingMessage, socket: Socket) => {
    socket.on('error', () => socket.destroy());
    rejectUpgrade(socket, 405, 'method not allowed');
  });

  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES });
  const sockets = new Set<WebSocket>();
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    // Node takes its own error listener off an upgraded socket; without ours a reset would end the process.
    socket.on('error', () => socket.destroy());
    try {
      const why = upgradeRefusal(req);
      if (why) return rejectUpgrade(socket, why[0], why[1]);
      wss.handleUpgrade(req, socket, head, (ws) => {
        sockets.add(ws);
        attachSocket(ws, dispatch, opts.services.events, () => sockets.delete(ws));
      });
    } catch (e) {
      rejectUpgrade(socket, 500, e instanceof Error ? e.message : String(e));
    }
  });

  function upgradeRefusal(req: IncomingMessage): [number, string] | undefined {
    if (req.headers.host !== host) return [421, 'wrong host'];
    if (req.headers.origin !== origin) return [403, 'wrong origin'];
    const url = requestUrl(req.url);
    if (!url || url.pathname !== API_PATH) return [404, `the socket lives at ${API_PATH}`];
    const check = sessions.check(req.headers.cookie, cookieName);
    if (check === 'duplicate') return [400, planted()];
    if (check !== 'ok') return [403, signIn()];
    return undefined;
  }

  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(opts.port ?? 0, '127.0.0.1', () => { server.off('error', fail); ok(); });
  });
  // Past listen, a server error (none expected on a bound socket) must not end the process.
  server.on('error', () => undefined);
  const port = (server.address() as AddressInfo).port;
  host = `127.0.0.1:${port}`;
  origin = `http://${host}`;
  cookieName = sessionCookieName(port);

  return {
    origin,
    port,
    cookieName,
    newLogin() {
      const { code, expiresAt, settled } = sessions.mintCode();
      return { url: `${origin}${AUTH_PATH}?code=${code}`, expiresAt, settled };
    },
    async close() {
      sessions.close();
      for (const ws of sockets) ws.close(1001, 'bridge closing');
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((ok) => server.close(() => ok()));
    },
  };
}

/** The request target as a URL, or undefined when it is not one (`//`, `http://x`, garbage). */
function requestUrl(target: string | undefined): URL | undefined {
  if (typeof target !== 'string' || !target.startsWith('/') || target.startsWith('//')) return undefined;
  try { return new URL(target, 'http://bridge.invalid'); } catch { return undefined; }
}

function rejectUpgrade(socket: Socket, status: number, text: string): void {
  const body = Buffer.from(text + '\n');
  if (socket.writable) {
    socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Refused'}\r\nconnection: close\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: ${body.length}\r\n\r\n${body}`);
  }
  socket.destroySoon?.();
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
