import { beforeEach, describe, expect, it, vi } from 'vitest';
import { CHANNELS, type EventName } from '../../main/api/contract.js';
import { EventHub } from '../../main/api/events.js';
import type { AppServices, ServiceMethods } from '../../main/api/methods.js';
import { VlxError } from '../../main/errors.js';
import { bindIpc } from '../../electron/ipc.js';
import { EVENT, INVOKE, SCHEME } from '../../electron/channels.js';
import { protocol } from '../support/fake-electron/index.js';
import { asElectron, becomeReady, BrowserWindow, rawRenderer, rendererTurn, resetFakeElectron, runPreload, type WebFrameMain } from '../support/fake-electron/control.js';

/**
 * The Electron face's IPC, run for real against the fake `electron` module: the preload as
 * the page sees it (window.vlx), the IPC hop with structured cloning, the main-side sender
 * check and the real dispatcher over a services object whose app.info answers.
 */
const ORIGIN = `${SCHEME}://app`;
const loadPreload = () => import('../../electron/preload.js');

interface VlxApi {
  invoke(channel: unknown, input: unknown): Promise<unknown>;
  subscribe(listener: (name: string, payload: unknown) => void): () => void;
}

const INFO = { version: '1.2.3', face: 'electron', home: '/home/ada/.vlx' } as const;

function stubServices() {
  const hub = new EventHub();
  const calls: string[] = [];
  const methods = Object.fromEntries(CHANNELS.map((c) => [c, async () => {
    calls.push(c);
    throw new VlxError('internal', `not in this test: ${c}`);
  }])) as unknown as ServiceMethods;
  methods['app.info'] = async () => { calls.push('app.info'); return { ...INFO }; };
  const services: AppServices = { methods, events: hub, close: async () => {} };
  return { services, hub, calls };
}

async function openWindow(url = `${ORIGIN}/index.html`, webPreferences: Record<string, unknown> = {}): Promise<BrowserWindow> {
  const win = new BrowserWindow({ webPreferences: { preload: '/app/preload.cjs', contextIsolation: true, sandbox: true, ...webPreferences } });
  await win.loadURL(url);
  return win;
}

async function vlxIn(frame: WebFrameMain): Promise<VlxApi> {
  return (await runPreload(frame, loadPreload)).vlx as VlxApi;
}

const refused = { ok: false, error: { code: 'invalid-input', message: expect.stringMatching(/^sender: /) } };

beforeEach(() => {
  resetFakeElectron();
  // As electron/main.ts does before ready: the app's scheme is standard, so Chromium gives it a real origin.
  protocol.registerSchemesAsPrivileged([{ scheme: SCHEME, privileges: { standard: true, secure: true } }]);
  becomeReady();
});

describe('electron IPC: a call from the app window', () => {
  it('goes through window.vlx, the IPC hop and dispatch, and answers the envelope', async () => {
    const { services, calls } = stubServices();
    const win = await openWindow();
    bindIpc(asElectron(win), services, ORIGIN);
    const frame = win.webContents.mainFrame;
    // What Electron reports for our page, and what Node's URL makes of it.
    expect(frame.origin).toBe('vlx-app://app');
    expect(new URL(frame.url).origin).toBe('null');

    const vlx = await vlxIn(frame);
    expect(await vlx.invoke('app.info', {})).toEqual({ ok: true, value: INFO });
    expect(calls).toEqual(['app.info']);
  });

  it('gets the dispatcher\'s field error for bad input, and the service is not called', async () => {
    const { services, calls } = stubServices();
    const win = await openWindow();
    bindIpc(asElectron(win), services, ORIGIN);
    const vlx = await vlxIn(win.webContents.mainFrame);
    expect(await vlx.invoke('tasks.get', { id: 'x; rm -rf /' })).toEqual({ ok: false, error: { code: 'invalid-input', message: expect.stringMatching(/^id: /) } });
    expect(calls).toEqual([]);
  });
});

describe('electron preload', () => {
  it('refuses an unknown or non-string channel itself, without sending anything', async () => {
    // No handler is bound: anything that reached IPC would reject with "No handler registered".
    const win = await openWindow();
    const vlx = await vlxIn(win.webContents.mainFrame);
    for (const channel of ['app.shutdown', '__proto__', 'constructor', '', { toString: 1 }, 42, null]) {
      expect(await vlx.invoke(channel, {})).toEqual({ ok: false, error: { code: 'invalid-input', message: expect.stringMatching(/^channel: unknown channel/) } });
    }
    await expect(rawRenderer(win.webContents.mainFrame).invoke(INVOKE, 'app.info', {})).rejects.toThrow(/No handler registered for 'vlx:invoke'/);
  });
});

describe('electron IPC: the sender check', () => {
  it('refuses a subframe of the app window, even at the app origin', async () => {
    const { services, calls } = stubServices();
    const win = await openWindow(`${ORIGIN}/index.html`, { nodeIntegrationInSubFrames: true });
    bindIpc(asElectron(win), services, ORIGIN);
    const sub = win.webContents.mainFrame.addChild(`${ORIGIN}/index.html`);
    expect(sub.origin).toBe(ORIGIN);
    expect(await (await vlxIn(sub)).invoke('app.info', {})).toEqual(refused);
    expect(await (await vlxIn(win.webContents.mainFrame)).invoke('app.info', {})).toMatchObject({ ok: true });
    expect(calls).toEqual(['app.info']);
  });

  it('refuses another webContents showing the same page with the same preload', async () => {
    const { services, calls } = stubServices();
    const win = await openWindow();
    const other = await openWindow();
    bindIpc(asElectron(win), services, ORIGIN);
    expect(await (await vlxIn(other.webContents.mainFrame)).invoke('app.info', {})).toEqual(refused);
    // A window the app page opened inherits the preload; it is another webContents too.
    const child = win.webContents.simulateWindowOpen(`${ORIGIN}/index.html`);
    expect(child).not.toBeNull();
    expect(await (await vlxIn(child!.mainFrame)).invoke('app.info', {})).toEqual(refused);
    expect(calls).toEqual([]);
  });

  it.each([
    'https://evil.example/index.html',
    'http://127.0.0.1:8080/',
    'file:///usr/share/vlx/index.html',
    'vlx-app://other/index.html',
    'vlx-app://app.evil.example/index.html',
    'vlx-app://evil@app/index.html',
    'vlx-app://app:81/index.html',
    'data:text/html,<script>1</script>',
    'about:blank',
  ])('refuses the app window\'s own top frame once it shows %s', async (url) => {
    const { services, calls } = stubServices();
    const win = await openWindow(url);
    bindIpc(asElectron(win), services, ORIGIN);
    expect(await (await vlxIn(win.webContents.mainFrame)).invoke('app.info', {})).toEqual(refused);
    expect(calls).toEqual([]);
  });

  it('refuses a call whose frame is gone by the time it arrives (senderFrame is null)', async () => {
    const { services, calls } = stubServices();
    const win = await openWindow();
    bindIpc(asElectron(win), services, ORIGIN);
    const frame = win.webContents.mainFrame;
    const vlx = await vlxIn(frame);
    const pending = vlx.invoke('app.info', {});
    frame.dispose();
    expect(await pending).toEqual(refused);
    expect(calls).toEqual([]);
  });

  it('answers a non-string channel sent past the preload with an envelope, not a throw', async () => {
    const { services, calls } = stubServices();
    const win = await openWindow();
    bindIpc(asElectron(win), services, ORIGIN);
    const raw = rawRenderer(win.webContents.mainFrame);
    expect(await raw.invoke(INVOKE, { toString: 1 }, {})).toEqual({ ok: false, error: { code: 'invalid-input', message: expect.stringMatching(/^channel: /) } });
    expect(await raw.invoke(INVOKE, 'app.shutdown', {})).toEqual({ ok: false, error: { code: 'invalid-input', message: expect.stringMatching(/^channel: unknown channel/) } });
    expect(calls).toEqual([]);
  });
});

describe('electron IPC: events and unbinding', () => {
  it('forwards service events on the EVENT channel to the page, and nothing to a destroyed window', async () => {
    const { services } = stubServices();
    // Unlike EventHub, this source lets a listener's throw through: the face itself must not throw.
    const listeners = new Set<(name: EventName, payload: unknown) => void>();
    const hub = { emit: (name: EventName, payload: unknown) => { for (const l of listeners) l(name, payload); } };
    const win = await openWindow();
    bindIpc(asElectron(win), { ...services, events: { subscribe: (l) => { listeners.add(l); return () => listeners.delete(l); } } }, ORIGIN);
    const got: [string, unknown][] = [];
    (await vlxIn(win.webContents.mainFrame)).subscribe((name, payload) => got.push([name, payload]));
    const send = vi.spyOn(win.webContents, 'send');

    hub.emit('state.changed', { what: 'vcs' });
    await rendererTurn();
    expect(send).toHaveBeenCalledWith(EVENT, 'state.changed', { what: 'vcs' });
    expect(got).toEqual([['state.changed', { what: 'vcs' }]]);

    const contents = win.webContents;
    win.destroy();
    expect(() => hub.emit('state.changed', { what: 'lab' })).not.toThrow();
    await rendererTurn();
    expect(send).toHaveBeenCalledTimes(1);
    expect(contents.isDestroyed()).toBe(true);
    expect(got).toHaveLength(1);
  });

  it('unbinding removes the handler and the event subscription', async () => {
    const { services, hub } = stubServices();
    const win = await openWindow();
    const unbind = bindIpc(asElectron(win), services, ORIGIN);
    expect(hub.size).toBe(1);
    unbind();
    expect(hub.size).toBe(0);
    await expect(rawRenderer(win.webContents.mainFrame).invoke(INVOKE, 'app.info', {})).rejects.toThrow(/No handler registered/);
    // A second window can bind again: Electron allows one handler per channel.
    expect(() => bindIpc(asElectron(win), services, ORIGIN)).not.toThrow();
  });
});
