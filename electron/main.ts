import { app, BrowserWindow, Menu, net, protocol, session, shell, type MenuItemConstructorOptions } from 'electron';
import { join, normalize, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createAppServices } from '../main/services/app.js';
import type { AppServices } from '../main/api/methods.js';
import { bindIpc } from './ipc.js';
import { SCHEME } from './channels.js';

/**
 * The Electron face: one window, a menu, and a graceful exit. The renderer is served from a
 * private scheme so that a strict CSP header applies to it (file:// pages get no headers).
 */
const ORIGIN = `${SCHEME}://app`;
const rendererDir = join(__dirname, '..', 'renderer');

const CSP = [
  "default-src 'self'", "script-src 'self'", "style-src 'self' 'unsafe-inline'", "connect-src 'none'",
  "img-src 'self' data:", "font-src 'self' data:", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'", "form-action 'none'",
].join('; ');

protocol.registerSchemesAsPrivileged([{ scheme: SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: false } }]);

let services: AppServices | undefined;
let win: BrowserWindow | undefined;
let unbind: (() => void) | undefined;
let quitting = false;

function serveRenderer(): void {
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

function hardenContents(): void {
  app.on('web-contents-created', (_e, contents) => {
    contents.on('will-navigate', (e, url) => { if (!url.startsWith(`${ORIGIN}/`)) e.preventDefault(); });
    contents.on('will-redirect', (e, url) => { if (!url.startsWith(`${ORIGIN}/`)) e.preventDefault(); });
    contents.on('will-attach-webview', (e) => e.preventDefault());
    contents.setWindowOpenHandler(() => ({ action: 'deny' }));
  });
  session.defaultSession.setPermissionRequestHandler((_wc, _perm, done) => done(false));
  session.defaultSession.setPermissionCheckHandler(() => false);
}

function buildMenu(): void {
  const template: MenuItemConstructorOptions[] = [
    { label: 'File', submenu: [{ role: 'quit' }] },
    { label: 'Edit', submenu: [{ role: 'undo' }, { role: 'redo' }, { type: 'separator' }, { role: 'cut' }, { role: 'copy' }, { role: 'paste' }, { role: 'selectAll' }] },
    { label: 'View', submenu: [{ role: 'reload' }, { role: 'toggleDevTools' }, { type: 'separator' }, { role: 'resetZoom' }, { role: 'zoomIn' }, { role: 'zoomOut' }, { type: 'separator' }, { role: 'togglefullscreen' }] },
    { label: 'Window', submenu: [{ role: 'minimize' }, { role: 'close' }] },
    { label: 'Help', submenu: [
      { label: 'About VirtuaLinux Manager', click: () => app.showAboutPanel() },
      { label: 'Design principles (TR-07-13)', click: () => void shell.openExternal('http://compass2.di.unipi.it/TR/Files/TR-07-13.pdf.gz') },
    ] },
  ];
  Menu.setApplicationMenu(Menu.buildFromTemplate(template));
}

function createWindow(): void {
  win = new BrowserWindow({
    width: 1440,
    height: 900,
    minWidth: 1280,
    minHeight: 800,
    title: 'VirtuaLinux Manager',
    backgroundColor: '#f6f7f9',
    show: false,
    webPreferences: {
      preload: join(__dirname, 'preload.cjs'),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      webSecurity: true,
      spellcheck: false,
    },
  });
  unbind = bindIpc(win, services!, ORIGIN);
  win.once('ready-to-show', () => win?.show());
  win.on('closed', () => { unbind?.(); unbind = undefined; win = undefined; });
  void win.loadURL(`${ORIGIN}/index.html`);
}

if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  app.on('second-instance', () => { if (win) { if (win.isMinimized()) win.restore(); win.focus(); } });
  app.setAboutPanelOptions({ applicationName: 'VirtuaLinux Manager', applicationVersion: app.getVersion() });

  void app.whenReady().then(() => {
    services = createAppServices({ face: 'electron', version: app.getVersion() });
    serveRenderer();
    hardenContents();
    buildMenu();
    createWindow();
  });

  app.on('window-all-closed', () => app.quit());

  // Close SSH sessions and terminals before leaving. Tasks are not killed mid-step on purpose:
  // each step is idempotent and recorded, so the next start resumes an interrupted task.
  app.on('before-quit', (e) => {
    if (quitting || !services) return;
    e.preventDefault();
    quitting = true;
    const done = () => app.quit();
    const deadline = setTimeout(done, 5000);
    void services.close().finally(() => { clearTimeout(deadline); done(); });
  });
}
