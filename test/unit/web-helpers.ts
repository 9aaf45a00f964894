import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { CHANNELS, type Channel } from '../../main/api/contract.js';
import { EventHub } from '../../main/api/events.js';
import type { ServiceMethods } from '../../main/api/methods.js';
import { VlxError } from '../../main/errors.js';
import { startWebBridge, type WebBridge, type WebBridgeOptions } from '../../main/web/server.js';
import type { ServerMessage } from '../../main/api/wire.js';

/**
 * A real browser bridge on 127.0.0.1 over stub services that record every call, and the
 * clients the web tests need: plain HTTP, a sign-in through /auth, a WebSocket, and raw bytes.
 */
export interface TestBridge {
  bridge: WebBridge;
  hub: EventHub;
  calls: { channel: Channel; input: unknown }[];
  methods: ServiceMethods;
  dir: string;
  close(): Promise<void>;
}

export async function startTestBridge(opts: Partial<WebBridgeOptions> & { withRenderer?: boolean } = {}): Promise<TestBridge> {
  const dir = mkdtempSync(join(tmpdir(), 'vlx-web-'));
  mkdirSync(join(dir, 'renderer'));
  if (opts.withRenderer !== false) writeFileSync(join(dir, 'renderer', 'index.html'), '<!doctype html><title>app</title>');
  writeFileSync(join(dir, 'secret.txt'), 'outside');
  const hub = new EventHub();
  const calls: TestBridge['calls'] = [];
  const methods = Object.fromEntries(CHANNELS.map((c) => [c, async (input: unknown) => {
    calls.push({ channel: c, input });
    throw new VlxError('internal', `not in this test: ${c}`);
  }])) as unknown as ServiceMethods;
  // app.info is the liveness probe; it is the one call not recorded.
  methods['app.info'] = async () => ({ version: 'test', face: 'test', home: dir });
  const bridge = await startWebBridge({ services: { methods, events: hub, close: async () => {} }, rendererDir: join(dir, 'renderer'), ...opts });
  return {
    bridge, hub, calls, methods, dir,
    async close() { await bridge.close(); rmSync(dir, { recursive: true, force: true }); },
  };
}

export interface HttpAnswer { status: number; headers: Record<string, string | string[] | undefined>; body: string }

export function http(port: number, path: string, opts: { method?: string; headers?: Record<string, string | string[]>; body?: Buffer | string; hostHeader?: string | null } = {}): Promise<HttpAnswer> {
  return new Promise((ok, fail) => {
    const headers: Record<string, string | string[]> = { ...(opts.headers ?? {}) };
    const host = opts.hostHeader === undefined ? `127.0.0.1:${port}` : opts.hostHeader;
    const req = request({ host: '127.0.0.1', port, path, method: opts.method ?? 'GET', headers, setHost: false }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => ok({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', fail);
    });
    if (host !== null) req.setHeader('host', host);
    req.on('error', fail);
    req.end(opts.body);
  });
}

/** Trade a fresh one-time code for the session cookie, as a browser would; returns "name=value". */
export async function signIn(bridge: WebBridge): Promise<string> {
  const link = bridge.newLogin();
  const res = await http(bridge.port, new URL(link.url).pathname + new URL(link.url).search);
  if (res.status !== 303) throw new Error(`sign-in answered ${res.status}: ${res.body}`);
  const set = String((res.headers['set-cookie'] as string[])[0]);
  return set.split(';')[0]!;
}

export interface Sock { ws?: WebSocket; status?: number; got: ServerMessage[]; closed: Promise<{ code: number; reason: string }> }

export function openSocket(port: number, headers: Record<string, string>, path = '/api'): Promise<Sock> {
  return new Promise((resolve) => {
    const got: ServerMessage[] = [];
    const ws = new WebSocket(`ws://127.0.0.1:${port}${path}`, { headers });
    const closed = new Promise<{ code: number; reason: string }>((ok) => ws.once('close', (code, reason) => ok({ code, reason: String(reason) })));
    const done = (r: { ws?: WebSocket; status?: number }) => resolve({ ...r, got, closed });
    ws.on('message', (raw) => got.push(JSON.parse(String(raw)) as ServerMessage));
    ws.once('open', () => done({ ws }));
    ws.once('unexpected-response', (_req, res) => { done({ status: res.statusCode }); res.resume(); ws.terminate(); });
    ws.on('error', () => done({}));
  });
}

/** The next message that satisfies `pred` (already received or still to come), or a clear timeout. */
export function nextMessage(sock: Sock, pred: (m: ServerMessage) => boolean, ms = 5000): Promise<ServerMessage> {
  return new Promise((ok, fail) => {
    const seen = sock.got.find(pred);
    if (seen) return ok(seen);
    const timer = setTimeout(() => fail(new Error(`no matching message within ${ms} ms; got ${JSON.stringify(sock.got).slice(0, 400)}`)), ms);
    const on = (raw: WebSocket.RawData) => {
      const m = JSON.parse(String(raw)) as ServerMessage;
      if (pred(m)) { clearTimeout(timer); sock.ws!.off('message', on); ok(m); }
    };
    sock.ws!.on('message', on);
  });
}

/**
 * Raw bytes on a TCP connection: everything the server sends back until it closes (or
 * `ms` passes). For requests and frames no well-behaved client library would send.
 */
export function rawExchange(port: number, chunks: Buffer[], ms = 1500): Promise<Buffer> {
  return new Promise((ok) => {
    const s = connect(port, '127.0.0.1');
    const got: Buffer[] = [];
    const finish = () => { clearTimeout(timer); s.destroy(); ok(Buffer.concat(got)); };
    const timer = setTimeout(finish, ms);
    s.on('data', (d: Buffer) => got.push(d));
    s.on('error', finish);
    s.on('close', finish);
    s.on('connect', () => { for (const c of chunks) s.write(c); });
  });
}

/** A client frame as RFC 6455 lays it out; `mask: false` makes the unmasked frame a server must refuse. */
export function frame(opcode: number, payload: Buffer, opts: { fin?: boolean; mask?: boolean; rsv?: number } = {}): Buffer {
  const fin = opts.fin ?? true;
  const masked = opts.mask ?? true;
  const head = [((fin ? 0x80 : 0) | ((opts.rsv ?? 0) << 4) | (opcode & 0x0f))];
  const len = payload.length;
  const m = masked ? 0x80 : 0;
  let ext = Buffer.alloc(0);
  if (len < 126) head.push(m | len);
  else if (len < 65536) { head.push(m | 126); ext = Buffer.alloc(2); ext.writeUInt16BE(len); }
  else { head.push(m | 127); ext = Buffer.alloc(8); ext.writeBigUInt64BE(BigInt(len)); }
  if (!masked) return Buffer.concat([Buffer.from(head), ext, payload]);
  const key = Buffer.from([0x12, 0x34, 0x56, 0x78]);
  const body = Buffer.alloc(len);
  for (let i = 0; i < len; i++) body[i] = payload[i]! ^ key[i % 4]!;
  return Buffer.concat([Buffer.from(head), ext, key, body]);
}

/** A hand-made WebSocket upgrade request for /api with these headers. */
export function upgradeRequest(port: number, headers: Record<string, string>, path = '/api'): Buffer {
  const lines = [`GET ${path} HTTP/1.1`, `Host: 127.0.0.1:${port}`, 'Upgrade: websocket', 'Connection: Upgrade',
    'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version: 13', `Origin: http://127.0.0.1:${port}`];
  for (const [k, v] of Object.entries(headers)) {
    const i = lines.findIndex((l) => l.toLowerCase().startsWith(k.toLowerCase() + ':'));
    if (i >= 0) lines.splice(i, 1);
    lines.push(`${k}: ${v}`);
  }
  return Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1');
}

/** What came back on a raw connection: the HTTP status line, and the server's frames after a 101. */
export function parseReply(buf: Buffer): { status: number; frames: { opcode: number; payload: Buffer }[]; closeCode?: number } {
  const end = buf.indexOf('\r\n\r\n');
  const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(buf.subarray(0, Math.max(end, 0)).toString('latin1'))?.[1] ?? 0);
  const frames: { opcode: number; payload: Buffer }[] = [];
  let i = end < 0 ? buf.length : end + 4;
  while (status === 101 && i + 2 <= buf.length) {
    const opcode = buf[i]! & 0x0f;
    let len = buf[i + 1]! & 0x7f;
    let p = i + 2;
    if (len === 126) { len = buf.readUInt16BE(p); p += 2; } else if (len === 127) { len = Number(buf.readBigUInt64BE(p)); p += 8; }
    if (p + len > buf.length) break;
    frames.push({ opcode, payload: buf.subarray(p, p + len) });
    i = p + len;
  }
  const close = frames.find((f) => f.opcode === 8);
  return { status, frames, ...(close && close.payload.length >= 2 ? { closeCode: close.payload.readUInt16BE(0) } : {}) };
}

/** The bridge still answers app.info through a fresh, signed-in socket, and nothing went uncaught. */
export async function stillAnswers(t: TestBridge, cookie: string): Promise<boolean> {
  await new Promise((r) => setImmediate(r));
  if (crashWatch.list.length) throw new Error(`uncaught: ${crashWatch.list.join('; ')}`);
  const sock = await openSocket(t.bridge.port, { cookie, origin: t.bridge.origin });
  if (!sock.ws) return false;
  try {
    await nextMessage(sock, (m) => m.t === 'ready');
    sock.ws.send(JSON.stringify({ t: 'call', id: 1, channel: 'app.info', input: {} }));
    const m = await nextMessage(sock, (x) => x.t === 'result' && x.id === 1);
    return m.t === 'result' && m.envelope.ok;
  } finally {
    sock.ws.close();
  }
}

/**
 * What would have ended a real `vlx gui`: errors nobody caught. Vitest keeps the worker alive
 * and reports them at the end; this names the case that caused one.
 */
const crashWatch = watchCrashes();

export function watchCrashes(): { list: string[]; stop(): void } {
  const list: string[] = [];
  const on = (e: unknown) => { list.push(e instanceof Error ? `${e.name}: ${e.message}` : String(e)); };
  process.on('uncaughtException', on);
  process.on('unhandledRejection', on);
  return { list, stop: () => { process.off('uncaughtException', on); process.off('unhandledRejection', on); } };
}
