import { describe, expect, it } from 'vitest';
import { electronTransport } from '../../renderer/src/transport/electron.js';
import { TERMINAL_WRITE_CHUNK } from '../../main/api/wire.js';

describe('the renderer over Electron IPC', () => {
  it('sends a paste over the contract limit as several writes, in order, whole', async () => {
    const seen: { channel: string; input: { sessionId: string; data: string } }[] = [];
    const t = electronTransport({
      invoke: async (channel: string, input: unknown) => { seen.push({ channel, input: input as never }); return { ok: true, value: {} }; },
      subscribe: () => () => {},
    } as never);
    const paste = 'é'.repeat(TERMINAL_WRITE_CHUNK * 2 + 7);
    expect(await t.invoke('terminal.write', { sessionId: 's1', data: paste })).toEqual({ ok: true, value: {} });
    expect(seen.length).toBe(3);
    expect(seen.every((s) => s.channel === 'terminal.write' && s.input.sessionId === 's1' && s.input.data.length <= TERMINAL_WRITE_CHUNK)).toBe(true);
    expect(seen.map((s) => s.input.data).join('')).toBe(paste);
  });

  it('stops at the first refused piece and answers with its error', async () => {
    let n = 0;
    const t = electronTransport({
      invoke: async () => (++n === 2 ? { ok: false, error: { code: 'not-found', message: 'sessionId: no such console' } } : { ok: true, value: {} }),
      subscribe: () => () => {},
    } as never);
    const r = await t.invoke('terminal.write', { sessionId: 's1', data: 'x'.repeat(TERMINAL_WRITE_CHUNK * 3) });
    expect(r).toEqual({ ok: false, error: { code: 'not-found', message: 'sessionId: no such console' } });
    expect(n).toBe(2);
  });
});
