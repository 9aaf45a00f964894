/// <reference types="electron" />
import { app } from './app.js';
import { defaultSession, resetSchemes, type WebContents } from './contents.js';
import { browserState, type WebFrameMain } from './frames.js';
import { inFrame, inFrameAsync, ipcRenderer, replayPreload, resetIpc } from './ipc.js';
import { BrowserWindow, menuState, shellState } from './window.js';

/**
 * What a test does to the fake Electron that the app never does: start Chromium, run the
 * preload in a frame, act as a renderer, and start over. The app sees only index.ts.
 */
export { app, BrowserWindow, defaultSession, menuState, shellState, browserState };
export type { WebContents, WebFrameMain };

/** Chromium is up: 'ready' fires and app.whenReady() resolves. */
export function becomeReady(): void { app.becomeReady(); }

/**
 * Run the preload in `frame`, as Electron does for each page the window loads: the main frame
 * always, a subframe only with webPreferences.nodeIntegrationInSubFrames (d.ts: "All your
 * preloads will load for every iframe"). The module is evaluated once (`load`, e.g.
 * `() => import('../../electron/preload.js')`); later frames get what it exposed, bound to them.
 * Returns the frame's main world (`window`).
 */
export async function runPreload(frame: WebFrameMain, load: () => Promise<unknown>): Promise<Record<string, unknown>> {
  if (!frame.owner.webPreferences.preload) throw new Error('fake electron: this page has no preload (webPreferences.preload)');
  if (frame.parent && !frame.owner.webPreferences.nodeIntegrationInSubFrames) {
    throw new Error('fake electron: a preload does not run in a subframe without nodeIntegrationInSubFrames');
  }
  if (!replayPreload(frame)) await inFrameAsync(frame, load);
  return frame.mainWorld;
}

/** A renderer talking IPC directly from `frame` (code that does not go through the preload's checks). */
export function rawRenderer(frame: WebFrameMain): { invoke(channel: string, ...args: unknown[]): Promise<unknown> } {
  return { invoke: (channel, ...args) => inFrame(frame, () => ipcRenderer.invoke(channel, ...args)) };
}

/** Wait until deliveries queued by webContents.send have reached their renderers. */
export function rendererTurn(): Promise<void> {
  return new Promise((r) => setImmediate(() => setImmediate(r)));
}

/** Back to a browser that has not started: no windows, handlers, listeners or schemes. */
export function resetFakeElectron(): void {
  app.removeAllListeners();
  for (const w of BrowserWindow.getAllWindows()) w.destroy();
  resetIpc();
  resetSchemes();
  app.resetReady();
  app.commandLine.reset();
  defaultSession.setPermissionRequestHandler(null);
  defaultSession.setPermissionCheckHandler(null);
  defaultSession.removeAllListeners();
  Object.assign(browserState, { ready: false, quitting: false, exited: false, singleInstanceLock: true, version: '0.0.0-fake' });
  menuState.applicationMenu = null;
  shellState.opened.length = 0;
}

/** The fake window where electron/* code expects Electron's type (the tests' only cast). */
export function asElectron(win: BrowserWindow): Electron.BrowserWindow {
  return win as unknown as Electron.BrowserWindow;
}
