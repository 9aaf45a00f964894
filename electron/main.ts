import { app, Menu, shell, type BrowserWindow, type MenuItemConstructorOptions } from 'electron';
import { join } from 'node:path';
import { createServices as createAppServices } from '../main/service/index.js';
import type { AppServices } from '../main/api/methods.js';
import { createWindow as openAppWindow, hardenContents, registerScheme, serveRenderer } from './window.js';
import { APP_DISABLED_FEATURES } from '../main/web/browser.js';

/**
 * The Electron face: one window, a menu, and a graceful exit. The window, the renderer's
 * private scheme and the refusals every page gets are in window.ts.
 */
const rendererDir = join(__dirname, '..', 'renderer');

registerScheme();
// As `vlx gui`'s window: a console's echo is not held back behind the frame after each key (main/web/browser.ts).
app.commandLine.appendSwitch('disable-features', APP_DISABLED_FEATURES.join(','));

let services: AppServices | undefined;
let win: BrowserWindow | undefined;
let quitting = false;

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
  win = openAppWindow(services!, join(__dirname, 'preload.cjs'));
  win.on('closed', () => { win = undefined; });
}

if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  app.on('second-instance', () => { if (win) { if (win.isMinimized()) win.restore(); win.focus(); } });
  app.setAboutPanelOptions({ applicationName: 'VirtuaLinux Manager', applicationVersion: app.getVersion() });

  void app.whenReady().then(() => {
    services = createAppServices({ face: 'electron', version: app.getVersion() });
    serveRenderer(rendererDir);
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
