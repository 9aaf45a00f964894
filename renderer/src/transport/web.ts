import type { Transport } from '../../../main/api/client.js';
import type { Envelope } from '../../../main/api/contract.js';
import type { ClientMessage, ServerMessage } from '../../../main/api/wire.js';
import { API_PATH } from '../../../main/api/wire.js';
import { splitTerminalWrite } from '../../../main/api/client.js';

export type LinkState = 'connecting' | 'open' | 'lost';

/**
 * The browser bridge's WebSocket, reopened when it drops (the bridge restarts, the laptop
 * sleeps). Calls made while it is down wait for it; calls in flight when it drops fail with
 * 'unreachable' rather than hang, because we cannot know whether they ran.
 */
export function webTransport(onState: (s: LinkState) => void): Transport {
  const listeners = new Set<(name: string, payload: unknown) => void>();
  const pending = new Map<number, (e: Envelope<unknown>) => void>();
  const queue: ClientMessage[] = [];
  let ws: WebSocket | undefined;
  let open = false;
  let nextId = 1;
  let retryMs = 250;

  const connect = () => {
    onState('connecting');
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}${API_PATH}`;
    const sock = new WebSocket(url);
    ws = sock;
    sock.onmessage = (ev) => {
      const msg = JSON.parse(String(ev.data)) as ServerMessage;
      if (msg.t === 'ready') {
        open = true;
        retryMs = 250;
        onState('open');
        for (const m of queue.splice(0)) sock.send(JSON.stringify(m));
      } else if (msg.t === 'result') {
        pending.get(msg.id)?.(msg.envelope);
        pending.delete(msg.id);
      } else if (msg.t === 'event') {
        for (const l of listeners) l(msg.name, msg.payload);
      }
    };
    sock.onclose = () => {
      open = false;
      onState('lost');
      for (const [id, done] of pending) {
        done({ ok: false, error: { code: 'unreachable', message: 'the connection to the app was lost during the call', hint: 'check the result before trying again' } });
        pending.delete(id);
      }
      setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, 5000);
    };
  };
  connect();

  const send = (channel: string, input: unknown): Promise<Envelope<unknown>> => {
    const id = nextId++;
    const msg: ClientMessage = { t: 'call', id, channel, input };
    return new Promise((resolve) => {
      pending.set(id, resolve);
      if (open && ws) ws.send(JSON.stringify(msg));
      else queue.push(msg);
    });
  };

  return {
    async invoke(channel, input) {
      const pieces = channel === 'terminal.write' ? splitTerminalWrite(input) : undefined;
      if (!pieces) return send(channel, input);
      // All pieces go out at once, in order, on the one socket; the bridge applies them in
      // arrival order. The first failure is the call's answer.
      const answers = await Promise.all(pieces.map((p) => send(channel, p)));
      return answers.find((a) => !a.ok) ?? answers[answers.length - 1]!;
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => { listeners.delete(listener); };
    },
  };
}
