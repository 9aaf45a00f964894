import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { http, openSocket, signIn, startTestBridge, type TestBridge } from './web-helpers.js';
import { cookieValues, Sessions } from '../../main/web/auth.js';

/**
 * The launch secret is a one-time code (one use, short life) and the session cookie is
 * bound to this bridge's port: a planted duplicate or another port's cookie gets nothing.
 */
let t: TestBridge;
const authPath = (url: string) => new URL(url).pathname + new URL(url).search;

beforeAll(async () => { t = await startTestBridge({ codeTtlMs: 300 }); });
afterAll(async () => { await t.close(); });

describe('one-time codes', () => {
  it('work once; a reused code gets 403 with words that say why', async () => {
    const link = t.bridge.newLogin();
    expect((await http(t.bridge.port, authPath(link.url))).status).toBe(303);
    expect(await link.settled).toBe('used');
    const again = await http(t.bridge.port, authPath(link.url));
    expect(again.status).toBe(403);
    expect(again.body).toMatch(/already used or has expired/);
    expect(again.headers['set-cookie']).toBeUndefined();
  });

  it('are spent only by a GET: HEAD and POST get 405 and leave the code good', async () => {
    const link = t.bridge.newLogin();
    expect((await http(t.bridge.port, authPath(link.url), { method: 'HEAD' })).status).toBe(405);
    expect((await http(t.bridge.port, authPath(link.url), { method: 'POST' })).status).toBe(405);
    expect((await http(t.bridge.port, authPath(link.url))).status).toBe(303);
  });

  it('expire unused after their lifetime', async () => {
    const link = t.bridge.newLogin();
    expect(await link.settled).toBe('expired');
    expect((await http(t.bridge.port, authPath(link.url))).status).toBe(403);
  });

  it('need this Host, and each use makes a new session', async () => {
    const link = t.bridge.newLogin();
    expect((await http(t.bridge.port, authPath(link.url), { hostHeader: `localhost:${t.bridge.port}` })).status).toBe(421);
    // Refused at the door, the code is still good for the right Host.
    const a = (await http(t.bridge.port, authPath(link.url))).headers['set-cookie'];
    const b = await signIn(t.bridge);
    expect(String(a)).not.toContain(b.split('=')[1]);
  });

  it('hold no state a lookup could leak: unknown and malformed codes are simply refused', () => {
    const s = new Sessions(1000);
    for (const c of [undefined, '', 'x', 'a'.repeat(10_000), {}, ['a'], '../../etc']) expect(s.redeem(c)).toBeUndefined();
    const { code } = s.mintCode();
    expect(s.redeem(code)).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(s.redeem(code)).toBeUndefined();
    s.close();
  });
});

describe('the session cookie', () => {
  it('is named after the port and read without decoding', () => {
    expect(t.bridge.cookieName).toBe(`vlx_session_${t.bridge.port}`);
    expect(cookieValues('a=1; vlx_session_1=%E0%A4%A; b', 'vlx_session_1')).toEqual(['%E0%A4%A']);
    expect(cookieValues(undefined, 'x')).toEqual([]);
  });

  it('twice in one request (a planted duplicate) is refused, over HTTP and at upgrade', async () => {
    const cookie = await signIn(t.bridge);
    const planted = `${t.bridge.cookieName}=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA`;
    for (const header of [`${planted}; ${cookie}`, `${cookie}; ${cookie}`]) {
      const res = await http(t.bridge.port, '/', { headers: { cookie: header } });
      expect(res.status).toBe(400);
      expect(res.body).toMatch(/came twice: another local server may have planted one/);
      expect((await openSocket(t.bridge.port, { cookie: header, origin: t.bridge.origin })).status).toBe(400);
    }
    // Two Cookie header lines are one list to the server, so the same rule holds.
    expect((await http(t.bridge.port, '/', { headers: { cookie: [planted, cookie] } })).status).toBe(400);
    expect((await http(t.bridge.port, '/', { headers: { cookie } })).status).toBe(200);
  });

  it("for another port's name is not accepted, even holding a live session", async () => {
    const value = (await signIn(t.bridge)).split('=')[1]!;
    const other = `vlx_session_${t.bridge.port + 1}=${value}`;
    expect((await http(t.bridge.port, '/', { headers: { cookie: other } })).status).toBe(403);
    expect((await openSocket(t.bridge.port, { cookie: other, origin: t.bridge.origin })).status).toBe(403);
    expect((await http(t.bridge.port, '/', { headers: { cookie: `vlx_token=${value}` } })).status).toBe(403);
  });

  it('is set HttpOnly, SameSite=Strict, Path=/ and without a Domain', async () => {
    const link = t.bridge.newLogin();
    const set = String((await http(t.bridge.port, authPath(link.url))).headers['set-cookie']);
    expect(set).toMatch(/; HttpOnly; SameSite=Strict; Path=\/$/);
    expect(set).not.toMatch(/domain=/i);
  });
});
