import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { CHANNELS } from '../../main/api/contract.js';
import { EventHub } from '../../main/api/events.js';
import type { ServiceMethods } from '../../main/api/methods.js';
import { VlxError } from '../../main/errors.js';
import { startWebBridge, type WebBridge } from '../../main/web/server.js';
import type { ServerMessage } from '../../main/web/protocol.types.js';

/**
 * The browser bridge over real HTTP and WebSocket on 127.0.0.1: the token, Host and Origin
 * checks, static files without path escapes, and a call and an event through the socket.
 */
const dir = mkdtempSync(join(tmpdir(), 'vlx-web-'));
const hub = new EventHub();
let bridge: WebBridge;

function get(path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((ok, fail) => {
    const req = request({ host: '127.0.0.1', port: bridge.port, path, headers: { host: `127.0.0.1:${bridge.port}`, ...headers } }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => ok({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', fail);
    req.end();
  });
}

function socket(headers: Record<string, string>): Promise<{ ws?: WebSocket; status?: number; got: ServerMessage[] }> {
  return new Promise((resolve) => {
    const got: ServerMessage[] = [];
    const ok = (r: { ws?: WebSocket; status?: number }) => resolve({ ...r, got });
    const ws = new WebSocket(`ws://127.0.0.1:${bridge.port}/api`, { headers });
    // Collect from the start: the server greets as soon as the socket opens.
    ws.on('message', (raw) => got.push(JSON.parse(String(raw)) as ServerMessage));
    ws.once('open', () => ok({ ws }));
    ws.once('unexpected-response', (_req, res) => ok({ status: res.statusCode }));
    ws.once('error', () => ok({}));
  });
}

beforeAll(async () => {
  mkdirSync(join(dir, 'renderer'));
  writeFileSync(join(dir, 'renderer', 'index.html'), '<!doctype html><title>app</title>');
  writeFileSync(join(dir, 'secret.txt'), 'outside');
  const methods = Object.fromEntries(CHANNELS.map((c) => [c, async () => { throw new VlxError('internal', `not in this test: ${c}`); }])) as unknown as ServiceMethods;
  methods['vc.stop'] = async ({ name }) => ({ taskId: `stop-${name}` });
  bridge = await startWebBridge({ services: { methods, events: hub, close: async () => {} }, rendererDir: join(dir, 'renderer') });
});
afterAll(async () => {
  await bridge.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('web bridge', () => {
  it('trades the token in the URL for an HttpOnly cookie, and refuses everything without it', async () => {
    expect((await get('/')).status).toBe(403);
    expect((await get('/?token=wrong')).status).toBe(403);
    const first = await get(`/?token=${bridge.token}`);
    expect(first.status).toBe(303);
    expect(first.headers.location).toBe('/');
    expect(first.headers['set-cookie']).toEqual([`vlx_token=${bridge.token}; HttpOnly; SameSite=Strict; Path=/`]);
    const page = await get('/', { cookie: `vlx_token=${bridge.token}` });
    expect(page.status).toBe(200);
    expect(page.body).toContain('<title>app</title>');
    expect(page.headers['content-security-policy']).toMatch(/default-src 'self'; script-src 'self'/);
    expect((await get('/', { cookie: 'vlx_token=wrong' })).status).toBe(403);
  });

  it('refuses another Host (DNS rebinding) and paths that leave the renderer directory', async () => {
    const cookie = `vlx_token=${bridge.token}`;
    expect((await get('/', { cookie, host: `evil.example:${bridge.port}` })).status).toBe(421);
    expect((await get('/../secret.txt', { cookie })).status).toBe(404);
    expect((await get('/%2e%2e/secret.txt', { cookie })).status).toBe(404);
    expect((await get('/nothing.js', { cookie })).status).toBe(404);
  });

  it('admits a socket only with the cookie and this origin', async () => {
    const cookie = `vlx_token=${bridge.token}`;
    expect((await socket({ origin: bridge.origin })).status).toBe(403);
    expect((await socket({ cookie, origin: 'http://evil.example' })).status).toBe(403);
    expect((await socket({ cookie })).status).toBe(403);
    const { ws } = await socket({ cookie, origin: bridge.origin });
    expect(ws).toBeDefined();
    ws!.close();
  });

  it('carries calls and events over the socket as envelopes', async () => {
    const { ws, got } = await socket({ cookie: `vlx_token=${bridge.token}`, origin: bridge.origin });
    const next = (pred: (m: ServerMessage) => boolean) => new Promise<ServerMessage>((ok) => {
      const seen = got.find(pred);
      if (seen) return ok(seen);
      ws!.on('message', (raw) => { const m = JSON.parse(String(raw)) as ServerMessage; if (pred(m)) ok(m); });
    });
    await next((m) => m.t === 'ready');
    ws!.send(JSON.stringify({ t: 'call', id: 7, channel: 'vc.stop', input: { name: 'web' } }));
    ws!.send(JSON.stringify({ t: 'call', id: 8, channel: 'vc.stop', input: { name: 'Web!' } }));
    ws!.send(JSON.stringify({ t: 'call', id: 9, channel: 'shell.exec', input: {} }));
    expect(await next((m) => m.t === 'result' && m.id === 7)).toEqual({ t: 'result', id: 7, envelope: { ok: true, value: { taskId: 'stop-web' } } });
    expect(await next((m) => m.t === 'result' && m.id === 8)).toMatchObject({ envelope: { ok: false, error: { code: 'invalid-input' } } });
    expect(await next((m) => m.t === 'result' && m.id === 9)).toMatchObject({ envelope: { ok: false, error: { code: 'invalid-input', message: 'channel: unknown channel "shell.exec"' } } });
    hub.emit('state.changed', { what: 'vcs' });
    expect(await next((m) => m.t === 'event')).toEqual({ t: 'event', name: 'state.changed', payload: { what: 'vcs' } });
    ws!.send('not json');
    expect(await next((m) => m.t === 'refused')).toEqual({ t: 'refused', reason: 'not JSON' });
    ws!.close();
  });
});
