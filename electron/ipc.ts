import { ipcMain, type BrowserWindow, type IpcMainInvokeEvent } from 'electron';
import type { AppServices } from '../main/api/methods.js';
import { createDispatch } from '../main/api/dispatch.js';
import { INVOKE, EVENT } from './channels.js';

const refusal = { ok: false, error: { code: 'invalid-input', message: 'sender: calls are accepted only from the app window' } } as const;

/**
 * Whether a call comes from the top frame of our own window, showing our own page.
 * The page is recognised by protocol and host, not by `new URL(url).origin`: Node's URL gives
 * every non-special scheme, `vlx-app:` included, the origin "null" (LAB-NOTES). The frame is
 * recognised by its frameTreeNodeId, which Electron keeps for the frame's whole life, rather
 * than by object identity. `senderFrame` is null when the frame is already gone (electron.d.ts).
 */
export function isTrustedSender(event: IpcMainInvokeEvent, win: BrowserWindow, origin: string): boolean {
  if (win.isDestroyed()) return false;
  const frame = event.senderFrame;
  const contents = win.webContents;
  if (!frame || event.sender.id !== contents.id) return false;
  if (frame.parent !== null || frame.frameTreeNodeId !== contents.mainFrame.frameTreeNodeId) return false;
  return isAppUrl(frame.url, origin);
}

/** Whether `url` is a page of `origin` ("vlx-app://app"): same protocol and host, no user info. */
export function isAppUrl(url: string, origin: string): boolean {
  try {
    const want = new URL(origin);
    const got = new URL(url);
    return got.protocol === want.protocol && got.host === want.host && got.username === '' && got.password === '';
  } catch {
    return false;
  }
}

export function bindIpc(win: BrowserWindow, services: AppServices, origin: string): () => void {
  const dispatch = createDispatch(services);
  ipcMain.handle(INVOKE, async (event, channel: unknown, input: unknown) => {
    if (!isTrustedSender(event, win, origin)) return refusal;
    // A renderer that skips the preload may send anything; String() of it could throw.
    if (typeof channel !== 'string') return { ok: false, error: { code: 'invalid-input', message: `channel: must be a string, got ${channel === null ? 'null' : typeof channel}` } };
    return dispatch(channel, input);
  });
  const unsubscribe = services.events.subscribe((name, payload) => {
    if (!win.isDestroyed() && !win.webContents.isDestroyed()) win.webContents.send(EVENT, name, payload);
  });
  return () => {
    unsubscribe();
    ipcMain.removeHandler(INVOKE);
  };
}
