import { contextBridge, ipcRenderer } from 'electron';
import { isChannelName as isChannel, isEventNameString as isEventName } from '../main/api/names.js';
import { INVOKE, EVENT } from './channels.js';

/**
 * The renderer's only door to the main process: `window.vlx`. It forwards contract calls and
 * nothing else (an unknown channel is refused here, before IPC), and hands events on as
 * plain data — never ipcRenderer itself, never an Electron event object.
 */
const api = {
  invoke(channel: string, input: unknown): Promise<unknown> {
    if (!isChannel(channel)) {
      // The page may pass anything: name only a string, never call its toString.
      const named = typeof channel === 'string' ? JSON.stringify(channel) : `(a ${channel === null ? 'null' : typeof channel})`;
      return Promise.resolve({ ok: false, error: { code: 'invalid-input', message: `channel: unknown channel ${named}` } });
    }
    return ipcRenderer.invoke(INVOKE, channel, input);
  },
  subscribe(listener: (name: string, payload: unknown) => void): () => void {
    const handler = (_e: unknown, name: unknown, payload: unknown) => {
      if (isEventName(name)) listener(name, payload);
    };
    ipcRenderer.on(EVENT, handler);
    return () => { ipcRenderer.removeListener(EVENT, handler); };
  },
};

contextBridge.exposeInMainWorld('vlx', api);
