/**
 * A faithful stand-in for the `electron` module, for the unit tests only (vitest aliases
 * 'electron' here in the unit project; the Electron typecheck and the build use the real one).
 * It models what electron/* uses, with Electron 45's names, event orders and defaults:
 * see node_modules/electron/electron.d.ts and each file's notes. Tests drive it via control.ts.
 */
export { app } from './app.js';
export { WebFrameMain } from './frames.js';
export { WebContents } from './contents.js';
export { BrowserWindow, Menu, net, protocol, session, shell } from './window.js';
export { contextBridge, ipcMain, ipcRenderer } from './ipc.js';
