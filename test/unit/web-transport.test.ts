import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { webTransport } from '../../renderer/src/transport/web.js';
import { splitTerminalWrite } from '../../main/api/client.js';
import { TERMINAL_WRITE_CHUNK } from '../../main/api/wire.js';
import { signIn, startTestBridge, type TestBridge } from './web-helpers.js';

/**
 * The renderer's WebSocket transport against the real bridge: a terminal paste far above the
 * contract's 1 Mi per call goes through as several calls in order, and nothing closes.
 */
let t: TestBridge;
const writes: string[] = [];
const g = globalThis as unknown as Record<string, unknown>;

beforeAll(async () => {
  t = await startTestBridge();
  t.methods['terminal.write'] = async ({ data }) => { writes.push(data); return {}; };
  const cookie = await signIn(t.bridge);
  const origin = t.bridge.origin;
  // What the browser supplies: its WebSocket (sending the cookie and Origin itself) and location.
  g.WebSocket = class extends WebSocket { constructor(url: string) { super(url, { headers: { cookie, origin } }); } };
  g.location = { protocol: 'http:', host: `127.0.0.1:${t.bridge.port}` };
});
// The globals stay: the transport keeps trying to reconnect after the bridge closes (this file runs in its own worker).
afterAll(async () => { await t.close(); });

describe('web transport', () => {
  it('splits a paste of 5 Mi characters into calls the contract accepts, in order', async () => {
    const states: string[] = [];
    const transport = webTransport((s) => states.push(s));
    const paste = Array.from({ length: 5 << 20 }, (_, i) => String.fromCharCode(97 + (i % 26))).join('');
    const answer = await transport.invoke('terminal.write', { sessionId: 's1', data: paste });
    expect(answer).toEqual({ ok: true, value: {} });
    expect(writes.length).toBe(Math.ceil(paste.length / TERMINAL_WRITE_CHUNK));
    expect(writes.every((w) => w.length <= 1 << 20)).toBe(true);
    expect(writes.join('')).toBe(paste);
    // The socket stayed up: a later call still works on it.
    expect(await transport.invoke('app.info', {})).toMatchObject({ ok: true });
    expect(states).toEqual(['connecting', 'open']);
  }, 20_000);

  it('never splits a surrogate pair, and leaves small writes alone', () => {
    const data = 'ab😀cd😀e';
    const pieces = splitTerminalWrite({ sessionId: 's', data }, 3)!;
    expect(pieces.map((p) => p.data).join('')).toBe(data);
    for (const p of pieces) expect(/^[\uDC00-\uDFFF]|[\uD800-\uDBFF]$/.test(p.data)).toBe(false);
    expect(splitTerminalWrite({ sessionId: 's', data: 'small' })).toBeUndefined();
    expect(splitTerminalWrite('nonsense')).toBeUndefined();
  });
});
