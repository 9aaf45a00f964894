import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CHANNELS } from '../../main/api/contract.js';
import { EventHub } from '../../main/api/events.js';
import type { AppServices, ServiceMethods } from '../../main/api/methods.js';
import { VlxError } from '../../main/errors.js';
import { CSP, ORIGIN, createWindow, hardenContents, registerScheme, serveRenderer } from '../../electron/window.js';
import { ipcMain, net } from '../support/fake-electron/index.js';
import { becomeReady, BrowserWindow, browserState, defaultSession, resetFakeElectron, runPreload, type WebContents } from '../support/fake-electron/control.js';

/**
 * electron/window.ts driven through the fake `electron`: the window main.ts opens, the
 * renderer's scheme, and the refusals every page gets. The fake keeps Electron's defaults
 * (navigation allowed, window.open allowed, permissions granted), so each refusal is the app's.
 */
const dir = mkdtempSync(join(tmpdir(), 'vlx-electron-'));
const rendererDir = join(dir, 'renderer');
mkdirSync(rendererDir);
writeFileSync(join(rendererDir, 'index.html'), '<!doctype html><title>app</title>');
writeFileSync(join(dir, 'secret.txt'), 'outside');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function stubServices(): { services: AppServices; hub: EventHub } {
  const hub = new EventHub();
  const methods = Object.fromEntries(CHANNELS.map((c) => [c, async () => { throw new VlxError('internal', `not in this test: ${c}`); }])) as unknown as ServiceMethods;
  methods['app.info'] = async () => ({ version: '1.2.3', face: 'electron', home: '/home/ada/.vlx' });
  return { services: { methods, events: hub, close: async () => {} }, hub };
}

/** As main.ts starts: the scheme before ready; then serve, harden, open the window. */
async function startLikeMain(): Promise<{ win: BrowserWindow; hub: EventHub }> {
  registerScheme();
  becomeReady();
  serveRenderer(rendererDir);
  hardenContents();
  const { services, hub } = stubServices();
  const win = createWindow(services, '/opt/vlx/dist/electron/preload.cjs') as unknown as BrowserWindow;
  await new Promise<void>((ok) => win.once('ready-to-show', () => ok()));
  return { win, hub };
}

beforeEach(() => resetFakeElectron());

describe('electron window', () => {
  it('opens our page isolated and sandboxed, shows it when ready, and a call through its preload answers', async () => {
    const { win } = await startLikeMain();
    expect(win.options.webPreferences).toMatchObject({ contextIsolation: true, sandbox: true, nodeIntegration: false, webSecurity: true, preload: '/opt/vlx/dist/electron/preload.cjs' });
    expect(win.options.webPreferences?.webviewTag).toBeFalsy();
    expect(win.options.webPreferences?.nodeIntegrationInSubFrames).toBeFalsy();
    expect(win.isVisible()).toBe(true);
    const frame = win.webContents.mainFrame;
    expect([frame.url, frame.origin]).toEqual([`${ORIGIN}/index.html`, ORIGIN]);

    const vlx = (await runPreload(frame, () => import('../../electron/preload.js'))).vlx as { invoke(c: string, i: unknown): Promise<unknown> };
    expect(await vlx.invoke('app.info', {})).toEqual({ ok: true, value: { version: '1.2.3', face: 'electron', home: '/home/ada/.vlx' } });
  });

  it('serves the renderer with the CSP, and nothing outside its folder or host', async () => {
    const { win } = await startLikeMain();
    const page = win.webContents.served[0];
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toBe(CSP);
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    expect(await page.text()).toContain('<title>app</title>');
    // A 404 from the handler, or a network error for a file that is not in the folder; never the file.
    for (const url of [`${ORIGIN}/%2e%2e/secret.txt`, `${ORIGIN}/..%2f..%2fsecret.txt`, `${ORIGIN}/..%5csecret.txt`, 'vlx-app://other/index.html']) {
      const got = await net.fetch(url).then(async (r) => `${r.status} ${await r.text()}`, (e: Error) => `error ${e.message}`);
      expect(got, url).toMatch(/^(404 not found|error net::ERR_FILE_NOT_FOUND)$/);
    }
    expect((await net.fetch('vlx-app://other/index.html')).status).toBe(404);
  });

  it('closing the window unbinds it: no IPC handler, no event subscription', async () => {
    const { win, hub } = await startLikeMain();
    expect([ipcMain.hasHandler('vlx:invoke'), hub.size]).toEqual([true, 1]);
    win.close();
    expect([ipcMain.hasHandler('vlx:invoke'), hub.size]).toEqual([false, 0]);
    expect(() => hub.emit('state.changed', { what: 'vcs' })).not.toThrow();
  });
});

describe('electron hardening', () => {
  it('keeps the window on our origin: navigation and redirects elsewhere are stopped', async () => {
    const { win } = await startLikeMain();
    const wc = win.webContents;
    for (const url of ['https://evil.example/', 'file:///etc/passwd', 'vlx-app://other/index.html', 'vlx-app://evil@app/', 'javascript:alert(1)', 'about:blank']) {
      expect(wc.simulateNavigation(url), url).toBe(false);
      expect(wc.simulateNavigation(url, 'will-redirect'), url).toBe(false);
    }
    expect(wc.mainFrame.url).toBe(`${ORIGIN}/index.html`);
    expect(wc.simulateNavigation(`${ORIGIN}/index.html#/vcs`)).toBe(true);
  });

  it('opens no new window, from our page or from any other page', async () => {
    const { win } = await startLikeMain();
    const before = BrowserWindow.getAllWindows().length;
    expect(win.webContents.simulateWindowOpen('https://evil.example/')).toBeNull();
    expect(win.webContents.simulateWindowOpen(`${ORIGIN}/index.html`)).toBeNull();
    const other = new BrowserWindow({ webPreferences: {} });
    expect(other.webContents.simulateWindowOpen('https://evil.example/')).toBeNull();
    expect(BrowserWindow.getAllWindows().length).toBe(before + 1);
  });

  it('attaches no <webview>, even in a page that enables the tag', async () => {
    await startLikeMain();
    const withTag = new BrowserWindow({ webPreferences: { webviewTag: true } });
    expect(withTag.webContents.simulateWebviewAttach('https://evil.example/')).toBeNull();
  });

  it('grants no permission request or check', async () => {
    const { win } = await startLikeMain();
    const wc = win.webContents as WebContents;
    for (const perm of ['media', 'geolocation', 'notifications', 'clipboard-read', 'openExternal', 'hid'] as const) {
      expect(await defaultSession.requestPermission(wc, perm), perm).toBe(false);
      expect(defaultSession.checkPermission(wc, perm, ORIGIN), perm).toBe(false);
    }
  });

  it('the fake names origins as Chromium does (a standard custom scheme has a real origin), not as Node does', () => {
    registerScheme();
    becomeReady();
    const frame = new BrowserWindow().webContents.mainFrame;
    const origins: [string, string][] = [
      ['vlx-app://app/index.html', 'vlx-app://app'], ['vlx-app://APP/x', 'vlx-app://app'], ['https://a.example:8443/x', 'https://a.example:8443'],
      ['file:///etc/passwd', 'file://'], ['unregistered://app/x', 'null'], ['data:text/html,x', 'null'],
    ];
    for (const [url, origin] of origins) {
      frame.commit(url);
      expect(frame.origin, url).toBe(origin);
    }
    expect(new URL('vlx-app://app/index.html').origin).toBe('null');
    frame.commit(`${ORIGIN}/index.html`);
    expect(frame.addChild('about:blank').origin).toBe(ORIGIN);
  });

  it('the fake keeps Electron\'s defaults, so the refusals above are the app\'s', async () => {
    registerScheme();
    becomeReady();
    const win = new BrowserWindow({ webPreferences: { webviewTag: true } });
    await win.loadURL(`${ORIGIN}/index.html`);
    const wc = win.webContents;
    expect(wc.simulateNavigation('https://evil.example/')).toBe(true);
    expect(wc.simulateWindowOpen('https://evil.example/')).not.toBeNull();
    expect(wc.simulateWebviewAttach('https://evil.example/')).not.toBeNull();
    expect(await defaultSession.requestPermission(wc, 'media')).toBe(true);
    expect(defaultSession.checkPermission(wc, 'media', ORIGIN)).toBe(true);
    // And Electron's ordering rules: the scheme only before ready, windows only after.
    expect(() => registerScheme()).toThrow(/before app is ready/);
    resetFakeElectron();
    expect(browserState.ready).toBe(false);
    expect(() => new BrowserWindow()).toThrow(/before app is ready/);
  });
});
