import { app, BrowserWindow, net, protocol, session } from 'electron';
import { join, normalize, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { AppServices } from '../main/api/methods.js';
import { bindIpc, isAppUrl } from './ipc.js';
import { SCHEME } from './channels.js';

/**
 * The app window and what guards it: the private scheme that serves the renderer with a
 * strict CSP (file:// pages get no headers), the refusals every page gets (navigation away,
 * new windows, <webview>, permissions), and the window bound to the services over IPC.
 * Kept apart from main.ts's life cycle so tests can drive it without starting the app.
 */
export const ORIGIN = `${SCHEME}://app`;

export const CSP = [
  "default-src 'self'", "script-src 'self'", "style-src 'self' 'unsafe-inline'", "connect-src 'none'",
  "img-src 'self' data:", "font-src 'self' data:", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'", "form-action 'none'",
].join('; ');

/** Before app ready: a standard scheme gets real origins and relative URLs. */
export function registerScheme(): void {
  protocol.registerSchemesAsPrivileged([{ scheme: SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: false } }]);
}

export function serveRenderer(rendererDir: string): void {
  protocol.handle(SCHEME, async (request) => {
    const url = new URL(request.url);
    const rel = normalize(decodeURIComponent(url.pathname)).replace(/^([/\\])+/, '') || 'index.html';
    const file = join(rendererDir, rel);
    if (url.host !== 'app' || !file.startsWith(rendererDir + sep)) return new Response('not found', { status: 404 });
    const res = await net.fetch(pathToFileURL(file).toString());
    const headers = new Headers(res.headers);
    headers.set('content-security-policy', CSP);
    headers.set('x-content-type-options', 'nosniff');
    return new Response(res.body, { status: res.status, headers });
  });
}

/** For every page of the app, ours or not: stay on our origin, open nothing, grant nothing. */
export function hardenContents(): void {
  app.on('web-contents-created', (_e, contents) => {
    contents.on('will-navigate', (e) => { if (!isAppUrl(e.url, ORIGIN)) e.preventDefault(); });
    contents.on('will-redirect', (e) => { if (!isAppUrl(e.url, ORIGIN)) e.preventDefault(); });
    contents.on('will-attach-webview', (e) => e.preventDefault());
    contents.setWindowOpenHandler(() => ({ action: 'deny' }));
  });
  session.defaultSession.setPermissionRequestHandler((_wc, _perm, done) => done(false));
  session.defaultSession.setPermissionCheckHandler(() => false);
}

/** The one app window, bound to the services until it closes. */
export function createWindow(services: AppServices, preloadPath: string): BrowserWindow {
  const win = new BrowserWindow({
    width: 1440,
    height: 900,
    minWidth: 1280,
    minHeight: 800,
    title: 'VirtuaLinux Manager',
    backgroundColor: '#f6f7f9',
    show: false,
    webPreferences: {
      preload: preloadPath,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      webSecurity: true,
      spellcheck: false,
    },
  });
  const unbind = bindIpc(win, services, ORIGIN);
  win.once('ready-to-show', () => win.show());
  win.on('closed', unbind);
  void win.loadURL(`${ORIGIN}/index.html`);
  return win;
}
