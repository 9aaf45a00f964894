import type { RawData, WebSocket } from 'ws';
import type { Dispatch } from '../api/dispatch.js';
import type { Envelope } from '../api/contract.js';
import type { EventSource } from '../api/methods.js';
import type { ServerMessage } from '../api/wire.js';

/**
 * One admitted WebSocket: calls in, results and events out. Nothing a peer sends may end the
 * process: a frame ws cannot accept (too big, invalid UTF-8, reserved opcode) closes this
 * socket with ws's close code (1009, 1007, 1002), and any message that is not a well-formed
 * call is answered with a refusal or an error envelope.
 */
export function attachSocket(ws: WebSocket, dispatch: Dispatch, events: EventSource, onClose: () => void): void {
  const send = (m: ServerMessage) => {
    if (ws.readyState !== ws.OPEN) return;
    try { ws.send(JSON.stringify(m)); } catch { ws.terminate(); }
  };
  const unsubscribe = events.subscribe((name, payload) => send({ t: 'event', name, payload }));
  // ws reports a bad frame here after it has already sent the close frame; the process goes on.
  ws.on('error', () => undefined);
  ws.on('message', (raw, isBinary) => {
    answer(raw, isBinary).catch(() => ws.terminate());
  });
  ws.on('close', () => { unsubscribe(); onClose(); });
  send({ t: 'ready' });

  async function answer(raw: RawData, isBinary: boolean): Promise<void> {
    if (isBinary) return send({ t: 'refused', reason: 'binary frames are not spoken here: send JSON text' });
    let msg: unknown;
    try { msg = JSON.parse(String(raw)); } catch { return send({ t: 'refused', reason: 'not JSON' }); }
    if (!isRecord(msg) || msg.t !== 'call') return send({ t: 'refused', reason: 'unknown message type: only {"t":"call"} is spoken' });
    const id = msg.id;
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0) return send({ t: 'refused', reason: 'id: must be a non-negative integer' });
    send({ t: 'result', id, envelope: await call(msg.channel, msg.input) });
  }

  async function call(channel: unknown, input: unknown): Promise<Envelope<unknown>> {
    if (typeof channel !== 'string') return { ok: false, error: { code: 'invalid-input', message: 'channel: must be a string naming a contract channel' } };
    try {
      return await dispatch(channel, input);
    } catch (e) {
      // Dispatch wraps what services throw; this is input zod itself could not walk (nesting too deep).
      return { ok: false, error: { code: 'invalid-input', message: `input: could not be read (${e instanceof Error ? e.message : 'unknown error'})` } };
    }
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
