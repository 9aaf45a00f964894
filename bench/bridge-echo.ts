/**
 * The console's transport alone, with no browser: a Node WebSocket client signs in to the web
 * bridge as a page would (one-time link → session cookie, same Host and Origin), opens a node
 * shell, runs `cat` and times each key from its terminal.write leaving to its echo's
 * terminal.data arriving. This is the bridge + SSH share of the UI benchmark's key → echo
 * figure; kept beside the browser's figure so the two are never confused again (issue 13).
 */
import WebSocket from 'ws';
import { API_PATH } from '../main/api/wire.js';
import type { ServerMessage } from '../main/api/wire.js';
import type { WebBridge } from '../main/web/server.js';

export interface BridgeEchoResult {
  keys: number;
  medianMs: number;
  p95Ms: number;
  minMs: number;
  maxMs: number;
}

/** Trades a one-time link for the session cookie, as the browser does on /auth. */
async function signIn(bridge: WebBridge): Promise<string> {
  const res = await fetch(bridge.newLogin().url, { redirect: 'manual' });
  const cookie = res.headers.get('set-cookie')?.split(';')[0];
  if (!cookie) throw new Error(`bridge-echo: signing in gave no session cookie (HTTP ${res.status})`);
  return cookie;
}

export async function measureBridgeEcho(bridge: WebBridge, node: string, keys = 100): Promise<BridgeEchoResult> {
  const cookie = await signIn(bridge);
  const ws = new WebSocket(`ws://127.0.0.1:${bridge.port}${API_PATH}`, { headers: { cookie, origin: bridge.origin } });
  let nextId = 1;
  const pending = new Map<number, (m: Extract<ServerMessage, { t: 'result' }>) => void>();
  let sessionId = '';
  let onData: ((d: string) => void) | undefined;
  const ready = new Promise<void>((ok, fail) => {
    ws.once('error', fail);
    ws.on('message', (raw) => {
      const m = JSON.parse(String(raw)) as ServerMessage;
      if (m.t === 'ready') ok();
      else if (m.t === 'result') { pending.get(m.id)?.(m); pending.delete(m.id); }
      else if (m.t === 'event' && m.name === 'terminal.data') {
        const p = m.payload as { sessionId: string; data: string };
        if (p.sessionId !== sessionId) return;
        onData?.(p.data);
        // Acknowledged at once: this client draws nothing, and flow control must not hold the echo.
        call('terminal.ack', { sessionId, chars: p.data.length }).catch(() => undefined);
      }
    });
  });
  function call(channel: string, input: unknown): Promise<unknown> {
    const id = nextId++;
    return new Promise((ok, fail) => {
      pending.set(id, (m) => (m.envelope.ok ? ok(m.envelope.value) : fail(new Error(`${channel}: ${m.envelope.error.message}`))));
      ws.send(JSON.stringify({ t: 'call', id, channel, input }));
    });
  }
  const seen = (pattern: RegExp, limitMs = 10_000) => new Promise<void>((ok, fail) => {
    let got = '';
    const timer = setTimeout(() => { onData = undefined; fail(new Error(`bridge-echo: no ${pattern} within ${limitMs} ms (saw ${JSON.stringify(got.slice(-200))})`)); }, limitMs);
    onData = (d) => {
      got += d;
      if (pattern.test(got)) { clearTimeout(timer); onData = undefined; ok(); }
    };
  });
  try {
    await ready;
    const opened = await call('terminal.openNodeShell', { node, rows: 24, cols: 200 }) as { sessionId: string };
    sessionId = opened.sessionId;
    const catting = seen(/MARK\r\n/);
    await call('terminal.write', { sessionId, data: 'echo MA""RK; exec cat >/dev/null\r' });
    await catting;
    const times: number[] = [];
    for (let i = 0; i < keys + 10; i++) {
      // Letters cycle so a late echo of the previous key is never taken for this one.
      const ch = String.fromCharCode(97 + (i % 26));
      const echoed = seen(new RegExp(ch));
      const start = performance.now();
      void call('terminal.write', { sessionId, data: ch });
      await echoed;
      if (i >= 10) times.push(performance.now() - start); // the first keys warm the path
      if (i % 100 === 99) { const nl = seen(/\n/); void call('terminal.write', { sessionId, data: '\r' }); await nl; }
    }
    times.sort((a, b) => a - b);
    const q = (p: number) => Math.round(times[Math.min(times.length - 1, Math.floor(p * times.length))]! * 1000) / 1000;
    return { keys: times.length, medianMs: q(0.5), p95Ms: q(0.95), minMs: q(0), maxMs: q(1) };
  } finally {
    if (sessionId) await call('terminal.close', { sessionId }).catch(() => undefined);
    ws.close();
  }
}
