import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { http, nextMessage, openSocket, signIn, startTestBridge, type TestBridge } from './web-helpers.js';

/**
 * The browser bridge over real HTTP and WebSocket on 127.0.0.1: the one-time code and the
 * session cookie, Host and Origin checks, static files without path escapes, and a call and
 * an event through the socket.
 */
let t: TestBridge;
let cookie: string;
const get = (path: string, headers: Record<string, string> = {}) => http(t.bridge.port, path, { headers });

beforeAll(async () => {
  t = await startTestBridge();
  t.methods['vc.stop'] = async ({ name }) => ({ taskId: `stop-${name}` });
  cookie = await signIn(t.bridge);
});
afterAll(async () => { await t.close(); });

describe('web bridge', () => {
  it('trades a one-time code for an HttpOnly session cookie named after its port, and refuses everything without it', async () => {
    expect((await get('/')).status).toBe(403);
    expect((await get('/auth?code=wrong')).status).toBe(403);
    const link = t.bridge.newLogin();
    const path = new URL(link.url).pathname + new URL(link.url).search;
    expect(path).toMatch(/^\/auth\?code=[A-Za-z0-9_-]{32}$/);
    const first = await get(path);
    expect(first.status).toBe(303);
    expect(first.headers.location).toBe('/');
    const set = (first.headers['set-cookie'] as string[])[0]!;
    expect(set).toMatch(new RegExp(`^vlx_session_${t.bridge.port}=[A-Za-z0-9_-]{43}; HttpOnly; SameSite=Strict; Path=/$`));
    expect(set).not.toContain(new URL(link.url).searchParams.get('code'));
    const page = await get('/', { cookie: set.split(';')[0]! });
    expect(page.status).toBe(200);
    expect(page.body).toContain('<title>app</title>');
    expect(page.headers['content-security-policy']).toMatch(/default-src 'self'; script-src 'self'/);
    expect((await get('/', { cookie: `${t.bridge.cookieName}=wrongwrongwrongwrong` })).status).toBe(403);
  });

  it('refuses another Host (DNS rebinding) and paths that leave the renderer directory', async () => {
    expect((await http(t.bridge.port, '/', { headers: { cookie }, hostHeader: `evil.example:${t.bridge.port}` })).status).toBe(421);
    expect((await get('/../secret.txt', { cookie })).status).toBe(404);
    expect((await get('/%2e%2e/secret.txt', { cookie })).status).toBe(404);
    expect((await get('/nothing.js', { cookie })).status).toBe(404);
  });

  it('admits a socket only with the cookie and this origin', async () => {
    expect((await openSocket(t.bridge.port, { origin: t.bridge.origin })).status).toBe(403);
    expect((await openSocket(t.bridge.port, { cookie, origin: 'http://evil.example' })).status).toBe(403);
    expect((await openSocket(t.bridge.port, { cookie })).status).toBe(403);
    const { ws } = await openSocket(t.bridge.port, { cookie, origin: t.bridge.origin });
    expect(ws).toBeDefined();
    ws!.close();
  });

  it('carries calls and events over the socket as envelopes', async () => {
    const sock = await openSocket(t.bridge.port, { cookie, origin: t.bridge.origin });
    const ws = sock.ws!;
    await nextMessage(sock, (m) => m.t === 'ready');
    ws.send(JSON.stringify({ t: 'call', id: 7, channel: 'vc.stop', input: { name: 'web' } }));
    ws.send(JSON.stringify({ t: 'call', id: 8, channel: 'vc.stop', input: { name: 'Web!' } }));
    ws.send(JSON.stringify({ t: 'call', id: 9, channel: 'shell.exec', input: {} }));
    expect(await nextMessage(sock, (m) => m.t === 'result' && m.id === 7)).toEqual({ t: 'result', id: 7, envelope: { ok: true, value: { taskId: 'stop-web' } } });
    expect(await nextMessage(sock, (m) => m.t === 'result' && m.id === 8)).toMatchObject({ envelope: { ok: false, error: { code: 'invalid-input' } } });
    expect(await nextMessage(sock, (m) => m.t === 'result' && m.id === 9)).toMatchObject({ envelope: { ok: false, error: { code: 'invalid-input', message: 'channel: unknown channel "shell.exec"' } } });
    t.hub.emit('state.changed', { what: 'vcs' });
    expect(await nextMessage(sock, (m) => m.t === 'event')).toEqual({ t: 'event', name: 'state.changed', payload: { what: 'vcs' } });
    ws.send('not json');
    expect(await nextMessage(sock, (m) => m.t === 'refused')).toEqual({ t: 'refused', reason: 'not JSON' });
    ws.close();
  });
});
