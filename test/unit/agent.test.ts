import { afterEach, describe, expect, it } from 'vitest';
import { connect } from 'node:net';
import { mkdtempSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EventHub } from '../../main/api/events.js';
import type { AppServices } from '../../main/api/methods.js';
import { startAgent, type Agent } from '../../main/agent/server.js';
import { connectAgent } from '../../main/agent/transport.js';

/** A services object whose only answers are app.info and vc.list; it records every call it gets. */
function stubServices(calls: string[]): AppServices {
  const hub = new EventHub();
  const methods = new Proxy({}, {
    get: (_t, channel: string) => async (input: unknown) => {
      calls.push(channel);
      if (channel === 'app.info') return { version: 't', face: 'cli', home: '/x' };
      if (channel === 'vc.list') { hub.emit('state.changed', { what: 'vcs' }); return []; }
      throw new Error(`unexpected ${channel} ${JSON.stringify(input)}`);
    },
  });
  return { methods: methods as AppServices['methods'], events: hub, close: async () => {} };
}

const open: Agent[] = [];
afterEach(async () => { for (const a of open.splice(0)) await a.close(); });

function rawLine(path: string, text: string | Buffer): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(path);
    let got = '';
    s.on('data', (d) => { got += d; });
    s.on('connect', () => { s.write(text); setTimeout(() => { s.destroy(); resolve(got); }, 150); });
    s.on('error', () => resolve(got));
  });
}

describe('the local agent', () => {
  it('serves the contract on a 0600 socket: a call through it reaches the services and returns the envelope; events reach every client', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vlx-agent-'));
    const calls: string[] = [];
    const agent = await startAgent(stubServices(calls), join(dir, 'agent.sock'));
    open.push(agent);
    expect(statSync(agent.path).mode & 0o777).toBe(0o600);
    const t = (await connectAgent(agent.path))!;
    const events: string[] = [];
    t.subscribe((name) => events.push(name));
    expect(await t.invoke('app.info', {})).toEqual({ ok: true, value: { version: 't', face: 'cli', home: '/x' } });
    expect(await t.invoke('vc.list', {})).toEqual({ ok: true, value: [] });
    // The dispatcher validates here as for every face: a bad input never reaches a service.
    expect(await t.invoke('vc.stop', { name: 'Bad Name' })).toMatchObject({ ok: false, error: { code: 'invalid-input' } });
    expect(calls).toEqual(['app.info', 'vc.list']);
    await new Promise((r) => setTimeout(r, 50));
    expect(events).toContain('state.changed');
    t.close();
  });

  it('no input crashes it: garbage, hostile JSON and an endless line are dropped or disconnected, and it goes on', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vlx-agent-'));
    const calls: string[] = [];
    const agent = await startAgent(stubServices(calls), join(dir, 'agent.sock'));
    open.push(agent);
    const hostile = [
      'not json\n', '{}\n', '{"t":"call"}\n', '{"t":"call","id":"x","channel":"app.info"}\n', 'null\n', '[]\n',
      '{"t":"call","id":1,"channel":{"toString":1},"input":{}}\n', '{"t":"call","id":2,"channel":"__proto__","input":{}}\n',
      '{"t":"call","id":3,"channel":"vc.stop","input":{"__proto__":{"name":"x"}}}\n', Buffer.from([0xff, 0xfe, 0x0a]),
      '['.repeat(100_000) + '\n',
    ];
    for (const h of hostile) await rawLine(agent.path, h);
    await rawLine(agent.path, 'x'.repeat(9 * 1024 * 1024));
    const t = (await connectAgent(agent.path))!;
    expect(await t.invoke('app.info', {})).toMatchObject({ ok: true });
    expect(calls).toEqual(['app.info']);
    t.close();
  });

  it('a second agent on a live socket is refused; a stale socket file (a dead agent) is taken over', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vlx-agent-'));
    const path = join(dir, 'agent.sock');
    const first = await startAgent(stubServices([]), path);
    await expect(startAgent(stubServices([]), path)).rejects.toMatchObject({ code: 'conflict' });
    await first.close();
    expect(existsSync(path)).toBe(false);
    writeFileSync(path, '');
    const second = await startAgent(stubServices([]), path);
    open.push(second);
    expect(await connectAgent(path)).toBeDefined();
  });

  it('the CLI side finds no agent quickly when there is none, or only a stale file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vlx-agent-'));
    const t0 = Date.now();
    expect(await connectAgent(join(dir, 'none.sock'))).toBeUndefined();
    writeFileSync(join(dir, 'stale.sock'), '');
    expect(await connectAgent(join(dir, 'stale.sock'))).toBeUndefined();
    expect(Date.now() - t0).toBeLessThan(1000);
  });
});
