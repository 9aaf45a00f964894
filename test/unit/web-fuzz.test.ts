import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import {
  frame, nextMessage, openSocket, parseReply, rawExchange, signIn, startTestBridge, stillAnswers, upgradeRequest, watchCrashes, type Sock, type TestBridge,
} from './web-helpers.js';
import type { ServerMessage } from '../../main/api/wire.js';
import { prng } from '../support/prng.js';

/**
 * Malformed requests and frames against the real bridge, before and after sign-in, from a
 * seeded PRNG (VLX_FUZZ_SEED repeats a run). After every case the bridge must still answer
 * app.info on a signed-in socket, and the services must have seen no call at all: every case
 * is one the bridge has to refuse. A refused request never gets content, a cookie or a 5xx.
 */
const SEED = Number(process.env.VLX_FUZZ_SEED ?? 20261130);
const COUNTS = { preAuthHttp: 400, postAuthHttp: 300, frames: 350, messages: 350 };

const R = prng(SEED);

let t: TestBridge;
let cookie: string;
let probe: Sock;
let probeId = 1_000_000;
let sent = 0;
const crashes = watchCrashes();
const histogram: Record<string, Record<string, number>> = { preAuth: {}, postAuth: {} };
const count = (h: Record<string, number>, k: number | string) => { h[k] = (h[k] ?? 0) + 1; };

async function alive(label: string): Promise<void> {
  const id = probeId++;
  probe.ws!.send(JSON.stringify({ t: 'call', id, channel: 'app.info', input: {} }));
  const m = await nextMessage(probe, (x) => x.t === 'result' && x.id === id, 3000).catch((e: Error) => { throw new Error(`after ${label} (seed ${SEED}): ${e.message}`); });
  expect(m.t === 'result' && m.envelope.ok, `app.info after ${label}`).toBe(true);
  expect(t.calls, `services called after ${label}`).toEqual([]);
  expect(crashes.list, `uncaught errors after ${label}`).toEqual([]);
  probe.got.length = 0;
}

beforeAll(async () => {
  t = await startTestBridge();
  cookie = await signIn(t.bridge);
  probe = await openSocket(t.bridge.port, { cookie, origin: t.bridge.origin });
  await nextMessage(probe, (m) => m.t === 'ready');
});
afterAll(async () => {
  crashes.stop();
  probe?.ws?.close();
  await t?.close();
  process.stdout.write(`web fuzz: ${sent} cases, seed ${SEED}; answers ${JSON.stringify(histogram)}\n`);
});

// ---- HTTP requests and upgrades, as raw bytes ----

const port = () => t.bridge.port;
const hosts = () => [`127.0.0.1:${port()}`, `127.0.0.1:${port()}`, null, `127.0.0.1:${port() + 1}`, 'evil.example', `evil.example:${port()}`, 'null', `localhost:${port()}`, '', 'h'.repeat(5000)];
const origins = () => [`http://127.0.0.1:${port()}`, undefined, 'null', `http://127.0.0.1:${port() + 1}`, 'http://evil.example', 'file://', `https://127.0.0.1:${port()}`];
const paths = ['/', '//', '/%', '/%E0%A4%A', '/..', '/../secret.txt', '/%2e%2e/%2e%2e/etc/passwd', '/ü/日本', '/api', '/api/', '/api?x=%',
  '/auth', '/auth?code=', '/auth?code=%', '/auth?code=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', '*', 'http://evil.example/', '/index.html?x=%%', '/\\..\\secret.txt',
  '/%00', '/api/../index.html', '///api', '/.', '/?token=x'];
const methods = ['GET', 'GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'TRACE', 'CONNECT', 'BREW', 'G\u0000ET', 'get'];

function fuzzPath(): string {
  const r = R.below(10);
  if (r < 6) return R.pick(paths);
  if (r === 6) return '/' + 'a'.repeat(R.below(20_000));
  if (r === 7) return '/' + R.bytes(R.below(40)).toString('latin1');
  if (r === 8) return '/' + encodeURIComponent(R.bytes(R.below(30)).toString('latin1')).replace(/%2F/g, '/');
  return R.pick(paths) + '/' + R.pick(paths);
}

function fuzzCookie(session: boolean): string | undefined {
  const name = t.bridge.cookieName;
  const junk = [
    undefined, 'vlx_token=%E0%A4%A', `${name}=%E0%A4%A`, `${name}=`, '=', ';;;', `vlx_session_${port() + 1}=${cookie.split('=')[1]}`,
    `${name}=${'A'.repeat(43)}`, `${name}=${'A'.repeat(43)}; ${name}=${'B'.repeat(43)}`, 'x'.repeat(R.below(70_000)),
    Array.from({ length: 1000 }, (_, i) => `c${i}=${i}`).join('; '), `${name}=${R.bytes(20).toString('latin1')}`, `${name}=${cookie.split('=')[1]}x`,
  ];
  const bad = R.pick(junk);
  if (!session) return bad;
  // Signed in: the real cookie, alone or beside something hostile (a duplicate of it, or junk).
  return R.pick([cookie, cookie, `${cookie}; ${bad ?? ''}`, `${bad ?? ''}; ${cookie}`, `${cookie}; ${cookie}`]);
}

/**
 * A well-formed request (a page, or an upgrade to /api) with one to three things made
 * hostile, so that cases reach every check rather than failing the first one.
 */
function fuzzRequest(session: boolean): { bytes: Buffer[]; upgrade: boolean; timeoutMs: number; bigBody: boolean } {
  const upgrade = R.next() < 0.45;
  const r = {
    method: 'GET', path: upgrade ? '/api' : R.pick(['/', '/index.html']), hosts: [`127.0.0.1:${port()}`] as (string | null)[],
    origin: upgrade ? `http://127.0.0.1:${port()}` as string | undefined : undefined,
    cookie: session ? cookie : fuzzCookie(false), key: 'dGhlIHNhbXBsZSBub25jZQ==' as string | undefined, version: '13',
    body: Buffer.alloc(0), chunked: false,
  };
  const mutations = [
    () => { r.method = R.pick(methods); },
    () => { r.path = upgrade ? R.pick(['//', '/apix', '/%', '/api?x=%E0', '/api/../api', '///api', fuzzPath()]) : fuzzPath(); },
    () => { r.hosts = [R.pick(hosts())]; },
    () => { r.hosts.push('evil.example'); },
    () => { r.origin = R.pick(origins()); },
    () => { r.cookie = fuzzCookie(session); },
    () => { r.key = R.pick([undefined, 'short', '']); r.version = R.pick(['8', '', '13, 8']); },
    () => { r.body = R.bytes(R.below(65_536)); },
    () => { r.body = Buffer.alloc((1 + R.below(4)) << 20, 0x41); },
    () => { r.body = Buffer.from('{"__proto__":{"admin":true},"constructor":{"prototype":{"admin":true}}}'); r.chunked = R.next() < 0.3; },
  ];
  for (let n = 1 + R.below(3); n > 0; n--) R.pick(mutations)();
  const lines = [`${r.method} ${r.path} HTTP/1.1`];
  for (const h of r.hosts) if (h !== null) lines.push(`Host: ${h}`);
  if (r.origin !== undefined) lines.push(`Origin: ${r.origin}`);
  if (r.cookie !== undefined) lines.push(`Cookie: ${r.cookie}`);
  if (upgrade) {
    lines.push('Upgrade: websocket', 'Connection: Upgrade', `Sec-WebSocket-Version: ${r.version}`);
    if (r.key !== undefined) lines.push(`Sec-WebSocket-Key: ${r.key}`);
  } else {
    lines.push('Connection: close');
  }
  if (r.body.length) lines.push(r.chunked ? 'Transfer-Encoding: chunked' : `Content-Length: ${r.body.length}`);
  const bytes: Buffer[] = [Buffer.from(lines.join('\r\n') + '\r\n\r\n', 'latin1'), r.body];
  // An upgrade that succeeds gets a hostile frame, then a close frame so the server ends the connection.
  if (upgrade) bytes.push(fuzzFrame(), frame(8, Buffer.from([0x03, 0xe8])));
  return { bytes, upgrade, timeoutMs: 1500, bigBody: r.body.length >= 1 << 20 };
}

// ---- WebSocket frames, as raw bytes after a hand-made upgrade ----

function fuzzFrame(): Buffer {
  const payload = () => (R.next() < 0.5 ? Buffer.from('{"t":"call","id":1,"channel":"vc.stop","input":{"name":"Bad Name"}}') : R.bytes(R.below(200)));
  switch (R.below(12)) {
    case 0: return frame(1, Buffer.concat([Buffer.from('{"t":"call"'), R.pick([Buffer.from([0xc3, 0x28]), Buffer.from([0xff]), Buffer.from([0xed, 0xa0, 0x80])])]));
    case 1: return frame(R.pick([3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf]), payload());
    case 2: return frame(1, payload(), { rsv: 1 + R.below(7) });
    case 3: return frame(1, payload(), { mask: false });
    case 4: return frame(0, payload()); // a continuation with nothing to continue
    case 5: return Buffer.concat([frame(1, Buffer.from('{"t":"ca'), { fin: false }), frame(0, Buffer.from('ll","id":2,"channel":7}'))]);
    case 6: return Buffer.concat([frame(1, Buffer.from('[1,'), { fin: false }), frame(1, Buffer.from('2]'))]); // a new message inside a fragmented one
    case 7: return frame(9, Buffer.alloc(126 + R.below(100))); // a control frame over 125 bytes
    case 8: return frame(8, Buffer.from([0x03, R.below(256)]), { fin: R.next() < 0.5 }); // a close with an odd code, maybe fragmented
    case 9: { const f = frame(1, Buffer.alloc(0)); f[1] = 0x80 | 127; return Buffer.concat([f.subarray(0, 2), Buffer.from([0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])]); } // 2^63 bytes declared
    case 10: return frame(2, payload()); // binary
    default: return R.bytes(1 + R.below(64));
  }
}

// ---- hostile JSON on a signed-in socket ----

function deep(n: number, open: string, close: string, inner = '1'): string {
  return open.repeat(n) + inner + close.repeat(n);
}

function fuzzMessage(): string | Buffer {
  const bad = R.pick<unknown>(['Bad Name', '', '__proto__', 123, null, { toString: 1 }, ['a'], 'x'.repeat(5000), true]);
  const channels = ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__', 'no.such', '', 'vc.stop ', 'VC.STOP', 'x'.repeat(100_000)];
  switch (R.below(16)) {
    case 0: return R.pick(['1', '"x"', 'null', 'true', '[]', '[1,2]', '""', '{}', '-0', '1e400']);
    case 1: return '{"__proto__":{"t":"call"},"id":1,"channel":"app.info"}';
    case 2: return JSON.stringify({ t: 'call', id: R.below(1000), channel: R.pick(channels), input: {} });
    case 3: return `{"t":"call","id":${R.below(1000)},"channel":${R.pick(['{"toString":1}', '{"valueOf":1,"toString":1}', '7', '[]', 'null', 'true', '["app.info"]'])}}`;
    case 4: return `{"t":"call","id":${R.pick(['-1', '1.5', '"1"', 'null', '1e400', '9007199254740993', '[]', '{}'])},"channel":"app.info","input":{}}`;
    case 5: return JSON.stringify({ t: R.pick(['CALL', 'call ', 1, null, ['call'], 'result', 'event']), id: 1, channel: 'app.info', input: {} });
    case 6: return JSON.stringify({ t: 'call', id: R.below(1000), channel: 'vc.stop', input: { name: bad } });
    case 7: return `{"t":"call","id":${R.below(1000)},"channel":"vc.stop","input":{"__proto__":{"name":"web"},"constructor":{"prototype":{"name":"web"}}}}`;
    case 8: return deep(1000 + R.below(100_000), '[', ']');
    case 9: return `{"t":"call","id":5,"channel":"vc.stop","input":${deep(1000 + R.below(50_000), '{"name":', '}', '"x"')}}`;
    case 10: return `{"t":"call","id":6,"channel":"vc.stop","input":{"name":${deep(10_000 + R.below(50_000), '[', ']')}}}`;
    case 11: return JSON.stringify({ t: 'call', id: 7, channel: 'terminal.write', input: { sessionId: 's', data: R.pick<unknown>([1, null, 'x'.repeat((1 << 20) + 1), {}]) } });
    case 12: { const s = JSON.stringify({ t: 'call', id: 8, channel: 'vc.stop', input: { name: 'web' } }); return s.slice(0, R.below(s.length)); }
    case 13: return Buffer.from(JSON.stringify({ t: 'call', id: 9, channel: 'app.info', input: {} })); // binary frame
    case 14: return '{"t":"call","id":10,"channel":"\\ud800","input":"\\u0000"}';
    default: return R.bytes(R.below(300)).toString('utf8');
  }
}

/** The code of a close frame we sent (frame() masks with 12 34 56 78), which the server may echo. */
function clientCloseCode(f: Buffer): number | undefined {
  if ((f[0]! & 0x0f) !== 8 || (f[1]! & 0x7f) < 2) return undefined;
  return ((f[6]! ^ 0x12) << 8) | (f[7]! ^ 0x34);
}

function setsCookie(raw: Buffer): boolean {
  const end = raw.indexOf('\r\n\r\n');
  return /\r\nset-cookie:/i.test(raw.subarray(0, end < 0 ? raw.length : end).toString('latin1'));
}

function send(ws: WebSocket, m: string | Buffer): Promise<void> {
  return new Promise((ok, fail) => ws.send(m, { binary: Buffer.isBuffer(m) }, (e) => (e ? fail(e) : ok())));
}

describe(`web bridge fuzz (seed ${SEED})`, () => {
  it('refuses malformed requests before sign-in: no content, no cookie, no 5xx', async () => {
    for (let i = 0; i < COUNTS.preAuthHttp; i++) {
      const req = fuzzRequest(false);
      const raw = await rawExchange(t.bridge.port, req.bytes, req.timeoutMs);
      const reply = parseReply(raw);
      sent++;
      const label = `pre-auth case ${i}: ${req.bytes[0]!.toString('latin1').slice(0, 200)}`;
      expect([101, 200, 303], label).not.toContain(reply.status);
      expect(reply.status < 500, label).toBe(true);
      expect(setsCookie(raw), label).toBe(false);
      count(histogram.preAuth!, reply.status);
      // Every request gets an answer; past a megabyte of unread body the close may reset the connection before we read it.
      if (!req.bigBody) expect(reply.status, `no answer: ${label}`).not.toBe(0);
      await alive(label);
    }
  }, 60_000);

  it('answers malformed requests after sign-in without a 5xx or a new cookie', async () => {
    for (let i = 0; i < COUNTS.postAuthHttp; i++) {
      const req = fuzzRequest(true);
      const raw = await rawExchange(t.bridge.port, req.bytes, req.timeoutMs);
      const reply = parseReply(raw);
      sent++;
      const label = `signed-in case ${i}: ${req.bytes[0]!.toString('latin1').slice(0, 200)}`;
      expect(reply.status < 500, label).toBe(true);
      expect(setsCookie(raw), label).toBe(false);
      count(histogram.postAuth!, reply.status);
      // Every request gets an answer; past a megabyte of unread body the close may reset the connection before we read it.
      if (!req.bigBody) expect(reply.status, `no answer: ${label}`).not.toBe(0);
      await alive(label);
    }
    // The cases reached the real paths too: some upgrades and pages were granted.
    expect(histogram.postAuth![101]).toBeGreaterThan(0);
    expect(histogram.postAuth![200]).toBeGreaterThan(0);
    expect(await stillAnswers(t, cookie)).toBe(true);
  }, 60_000);

  it('closes a signed-in socket on a bad frame, and only that socket', async () => {
    const closes = new Map<number | undefined, number>();
    for (let i = 0; i < COUNTS.frames; i++) {
      const f = fuzzFrame();
      const reply = parseReply(await rawExchange(t.bridge.port, [upgradeRequest(t.bridge.port, { Cookie: cookie }), f, frame(8, Buffer.from([0x03, 0xe8]))], 1500));
      sent++;
      const label = `frame case ${i}: ${f.subarray(0, 16).toString('hex')}`;
      expect(reply.status, label).toBe(101);
      // The refusals name their reason: protocol error, bad data, too big; or the server echoes a valid close of ours.
      expect([1000, 1002, 1007, 1009, undefined, clientCloseCode(f)], label).toContain(reply.closeCode);
      closes.set(reply.closeCode, (closes.get(reply.closeCode) ?? 0) + 1);
      await alive(label);
    }
    histogram.frames = Object.fromEntries(closes);
    for (const code of [1000, 1002, 1007, 1009]) expect(closes.get(code), `close code ${code} seen`).toBeGreaterThan(0);
  }, 60_000);

  it('answers hostile JSON with a refusal or an error envelope, never a call', async () => {
    const sock = await openSocket(t.bridge.port, { cookie, origin: t.bridge.origin });
    await nextMessage(sock, (m) => m.t === 'ready');
    const answers: ServerMessage[] = [];
    sock.ws!.on('message', (raw) => answers.push(JSON.parse(String(raw)) as ServerMessage));
    for (let i = 0; i < COUNTS.messages; i++) {
      const m = fuzzMessage();
      answers.length = 0;
      await send(sock.ws!, m);
      sent++;
      const label = `message case ${i}: ${String(m).slice(0, 120)}`;
      // The same socket still serves a call after it, which also orders the answers.
      const id = 2_000_000 + i;
      sock.ws!.send(JSON.stringify({ t: 'call', id, channel: 'app.info', input: {} }));
      await nextMessage(sock, (x) => x.t === 'result' && x.id === id).catch((e: Error) => { throw new Error(`${label}: ${e.message}`); });
      for (const a of answers) {
        if (a.t === 'result' && a.id === id) continue;
        expect(a.t === 'refused' || (a.t === 'result' && !a.envelope.ok), `${label} → ${JSON.stringify(a).slice(0, 200)}`).toBe(true);
      }
      await alive(label);
    }
    sock.ws!.close();
  }, 60_000);
});
