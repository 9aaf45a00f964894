import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeSync, openSync, ftruncateSync } from 'node:fs';
import { join } from 'node:path';
import {
  frame, http, nextMessage, openSocket, parseReply, rawExchange, signIn, startTestBridge, stillAnswers, upgradeRequest, type TestBridge,
} from './web-helpers.js';

/**
 * The bridge's error paths, each through real HTTP or real WebSocket bytes, and the inputs
 * that used to end the process. After each crasher the bridge must still answer app.info.
 */
let t: TestBridge;
let cookie: string;

beforeAll(async () => {
  t = await startTestBridge();
  cookie = await signIn(t.bridge);
  // A sparse file too large for one read: stat says it is there, reading it throws.
  const fd = openSync(join(t.dir, 'renderer', 'huge.js'), 'w');
  ftruncateSync(fd, 2 ** 31 + 1);
  closeSync(fd);
});
afterAll(async () => { await t.close(); });

describe('HTTP error paths', () => {
  it('405 for a method other than GET or HEAD, signed in or at /auth', async () => {
    const post = await http(t.bridge.port, '/', { method: 'POST', headers: { cookie }, body: '{}' });
    expect(post.status).toBe(405);
    expect((await http(t.bridge.port, '/auth?code=x', { method: 'DELETE' })).status).toBe(405);
    expect((await http(t.bridge.port, '/', { method: 'HEAD', headers: { cookie } })).status).toBe(200);
  });

  it('500 with the reason when serving throws', async () => {
    const res = await http(t.bridge.port, '/huge.js', { headers: { cookie } });
    expect(res.status).toBe(500);
    expect(res.body).toMatch(/File size .* is greater than 2 GiB/);
  });

  it('503 with what to run before the renderer is built', async () => {
    const bare = await startTestBridge({ withRenderer: false });
    try {
      const res = await http(bare.bridge.port, '/', { headers: { cookie: await signIn(bare.bridge) } });
      expect(res.status).toBe(503);
      expect(res.body).toMatch(/the renderer is not built .*: run node scripts\/build\.mjs renderer/);
    } finally { await bare.close(); }
  });

  it('400 for request targets that are not paths, and bad percent-encoding', async () => {
    const reply = parseReply(await rawExchange(t.bridge.port, [Buffer.from(`GET // HTTP/1.1\r\nHost: 127.0.0.1:${t.bridge.port}\r\ncookie: ${cookie}\r\n\r\n`)]));
    expect(reply.status).toBe(400);
    expect((await http(t.bridge.port, '/%E0%A4%A', { headers: { cookie } })).status).toBe(400);
  });
});

describe('WebSocket error paths', () => {
  const origin = () => t.bridge.origin;

  it('refuses the wrong path (404), Host (421) and Origin (403)', async () => {
    expect((await openSocket(t.bridge.port, { cookie, origin: origin() }, '/apix')).status).toBe(404);
    expect((await openSocket(t.bridge.port, { cookie, origin: origin(), host: 'evil.example' })).status).toBe(421);
    expect((await openSocket(t.bridge.port, { cookie, origin: 'null' })).status).toBe(403);
    expect((await openSocket(t.bridge.port, { cookie, origin: `http://127.0.0.1:${t.bridge.port + 1}` })).status).toBe(403);
  });

  it('answers an unknown message type with a refusal and an unknown channel with an error envelope', async () => {
    const sock = await openSocket(t.bridge.port, { cookie, origin: origin() });
    await nextMessage(sock, (m) => m.t === 'ready');
    sock.ws!.send(JSON.stringify({ t: 'hello', id: 1 }));
    expect(await nextMessage(sock, (m) => m.t === 'refused')).toEqual({ t: 'refused', reason: 'unknown message type: only {"t":"call"} is spoken' });
    sock.ws!.send(JSON.stringify({ t: 'call', id: 2, channel: 'no.such', input: {} }));
    expect(await nextMessage(sock, (m) => m.t === 'result' && m.id === 2)).toEqual({
      t: 'result', id: 2, envelope: { ok: false, error: { code: 'invalid-input', message: 'channel: unknown channel "no.such"' } },
    });
    sock.ws!.close();
    expect(t.calls).toEqual([]);
  });
});

describe('inputs that used to end the process', () => {
  it('a cookie with bad percent-encoding on an upgrade, with and without a session', async () => {
    for (const c of ['vlx_token=%E0%A4%A', `${t.bridge.cookieName}=%E0%A4%A`, `vlx_token=%E0%A4%A; ${cookie}`]) {
      const reply = parseReply(await rawExchange(t.bridge.port, [upgradeRequest(t.bridge.port, { Cookie: c }), frame(8, Buffer.from([0x03, 0xe8]))]));
      expect(reply.status, c).toBe(c.includes(cookie) ? 101 : 403);
    }
    expect(await stillAnswers(t, cookie)).toBe(true);
  });

  it('an upgrade to the path //', async () => {
    const reply = parseReply(await rawExchange(t.bridge.port, [upgradeRequest(t.bridge.port, { Cookie: cookie }, '//')]));
    expect(reply.status).toBe(404);
    expect(await stillAnswers(t, cookie)).toBe(true);
  });

  it('a frame over the size limit closes that socket with 1009', async () => {
    const sock = await openSocket(t.bridge.port, { cookie, origin: t.bridge.origin });
    await nextMessage(sock, (m) => m.t === 'ready');
    sock.ws!.send('x'.repeat((4 << 20) + 1));
    expect((await sock.closed).code).toBe(1009);
    expect(await stillAnswers(t, cookie)).toBe(true);
  });

  it('a text frame of invalid UTF-8 closes with 1007, a reserved opcode with 1002', async () => {
    const bad = parseReply(await rawExchange(t.bridge.port, [upgradeRequest(t.bridge.port, { Cookie: cookie }), frame(1, Buffer.from([0xc3, 0x28, 0xff]))]));
    expect(bad.status).toBe(101);
    expect(bad.closeCode).toBe(1007);
    const reserved = parseReply(await rawExchange(t.bridge.port, [upgradeRequest(t.bridge.port, { Cookie: cookie }), frame(3, Buffer.from('hi'))]));
    expect(reserved.closeCode).toBe(1002);
    expect(await stillAnswers(t, cookie)).toBe(true);
  });

  it('a channel whose toString is not a function', async () => {
    const sock = await openSocket(t.bridge.port, { cookie, origin: t.bridge.origin });
    await nextMessage(sock, (m) => m.t === 'ready');
    sock.ws!.send('{"channel":{"toString":1}}');
    expect(await nextMessage(sock, (m) => m.t === 'refused')).toMatchObject({ reason: /unknown message type/ });
    sock.ws!.send('{"t":"call","id":3,"channel":{"toString":1}}');
    expect(await nextMessage(sock, (m) => m.t === 'result' && m.id === 3)).toMatchObject({
      envelope: { ok: false, error: { code: 'invalid-input', message: 'channel: must be a string naming a contract channel' } },
    });
    sock.ws!.close();
    expect(await stillAnswers(t, cookie)).toBe(true);
    expect(t.calls).toEqual([]);
  });
});
