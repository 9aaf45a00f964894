import { ipcMain, type BrowserWindow, type IpcMainInvokeEvent } from 'electron';
import type { AppServices } from '../main/api/methods.js';
import { createDispatch } from '../main/api/dispatch.js';
import { INVOKE, EVENT } from './channels.js';

/**
 * Binds the contract to Electron IPC. The preload already refuses unknown channels; this
 * side does not trust that: it checks that the call comes from our own top frame at our own
 * origin, and the dispatcher validates the input against the contract before any service runs.
 */
export function isTrustedSender(event: IpcMainInvokeEvent, win: BrowserWindow, origin: string): boolean {
  const frame = event.senderFrame;
  if (!frame || event.sender.id !== win.webContents.id) return false;
  if (frame !== event.sender.mainFrame) return false;
  try {
    return new URL(frame.url).origin === origin;
  } catch {
    return false;
  }
}

export function bindIpc(win: BrowserWindow, services: AppServices, origin: string): () => void {
  const dispatch = createDispatch(services);
  ipcMain.handle(INVOKE, async (event, channel: unknown, input: unknown) => {
    if (!isTrustedSender(event, win, origin)) {
      return { ok: false, error: { code: 'invalid-input', message: 'sender: calls are accepted only from the app window' } };
    }
    return dispatch(String(channel), input);
  });
  const unsubscribe = services.events.subscribe((name, payload) => {
    if (!win.isDestroyed()) win.webContents.send(EVENT, name, payload);
  });
  return () => {
    unsubscribe();
    ipcMain.removeHandler(INVOKE);
  };
}
