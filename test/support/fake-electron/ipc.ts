/// <reference types="electron" />
import { EventEmitter } from 'node:events';
import { makeEvent, type WebFrameMain } from './frames.js';

type InvokeListener = (event: FakeInvokeEvent, ...args: unknown[]) => unknown;

/** d.ts interface IpcMainInvokeEvent: sender, senderFrame (null once the frame is gone), frameId, processId, type. */
export interface FakeInvokeEvent {
  readonly sender: WebFrameMain['owner'];
  readonly senderFrame: WebFrameMain | null;
  readonly frameId: number;
  readonly processId: number;
  readonly type: 'frame';
  preventDefault(): void;
  readonly defaultPrevented: boolean;
}

/**
 * ipcMain.handle / removeHandler as Electron's lib/browser/ipc-main-impl.ts does them: one
 * handler per channel (a second throws), a missing handler or a throwing one rejects the
 * renderer's invoke with "Error invoking remote method '<channel>': <error>".
 */
class FakeIpcMain extends EventEmitter {
  private readonly handlers = new Map<string, InvokeListener>();

  handle(channel: string, listener: InvokeListener): void {
    if (this.handlers.has(channel)) throw new Error(`Attempted to register a second handler for '${channel}'`);
    if (typeof listener !== 'function') throw new TypeError(`Expected handler to be a function, but found type '${typeof listener}'`);
    this.handlers.set(channel, listener);
  }

  handleOnce(channel: string, listener: InvokeListener): void {
    this.handle(channel, (e, ...args) => { this.removeHandler(channel); return listener(e, ...args); });
  }

  removeHandler(channel: string): void { this.handlers.delete(channel); }

  hasHandler(channel: string): boolean { return this.handlers.has(channel); }

  clear(): void { this.handlers.clear(); this.removeAllListeners(); }

  /** The browser side of one invoke from `frame`; `wire` is already structured-cloned. */
  async receive(frame: WebFrameMain, channel: string, wire: unknown[]): Promise<unknown> {
    const handler = this.handlers.get(channel);
    if (!handler) throw new Error(`Error invoking remote method '${channel}': Error: No handler registered for '${channel}'`);
    // senderFrame is looked up when read, and is null once that document is gone (d.ts).
    const event = makeEvent({
      sender: frame.owner, frameId: frame.routingId, processId: frame.processId, type: 'frame' as const,
      get senderFrame() { return frame.isDestroyed() ? null : frame; },
    }) as FakeInvokeEvent;
    let result: unknown;
    try {
      result = await handler(event, ...wire);
    } catch (err) {
      throw new Error(`Error invoking remote method '${channel}': ${String(err)}`);
    }
    return structuredClone(result);
  }
}

export const ipcMain = new FakeIpcMain();

/**
 * The renderer whose code is running now. Electron gives each frame that runs the preload its
 * own ipcRenderer; here one object serves them all and asks `currentFrame` which frame is
 * calling. contextBridge sets it for the duration of every call into an exposed API, and
 * control.ts sets it while a preload loads.
 */
let currentFrame: WebFrameMain | null = null;

export function inFrame<T>(frame: WebFrameMain, fn: () => T): T {
  const prev = currentFrame;
  currentFrame = frame;
  try { return fn(); } finally { currentFrame = prev; }
}

/** Like inFrame, across an await: a preload module is evaluated some turns after import() starts. */
export async function inFrameAsync<T>(frame: WebFrameMain, fn: () => Promise<T>): Promise<T> {
  const prev = currentFrame;
  currentFrame = frame;
  try { return await fn(); } finally { currentFrame = prev; }
}

function callingFrame(api: string): WebFrameMain {
  if (!currentFrame) throw new Error(`${api}: not in a renderer (the fake needs inFrame or a call through contextBridge)`);
  return currentFrame;
}

/** d.ts IpcRendererEvent: the receiving ipcRenderer and transferred ports. */
type RendererListener = (event: { sender: FakeIpcRenderer; ports: MessagePort[] }, ...args: unknown[]) => void;

interface FakeIpcRenderer {
  invoke(channel: string, ...args: unknown[]): Promise<unknown>;
  on(channel: string, listener: RendererListener): FakeIpcRenderer;
  removeListener(channel: string, listener: RendererListener): FakeIpcRenderer;
  off(channel: string, listener: RendererListener): FakeIpcRenderer;
  listenerCount(channel: string): number;
}
const wrapped = new WeakMap<RendererListener, (...args: unknown[]) => void>();

export const ipcRenderer: FakeIpcRenderer = {
  /** d.ts IpcRenderer.invoke: arguments structured-cloned ("could not be cloned" rejects), answer later. */
  invoke(channel: string, ...args: unknown[]): Promise<unknown> {
    const frame = callingFrame('ipcRenderer.invoke');
    return (async () => {
      const wire = structuredClone(args);
      await new Promise((r) => setImmediate(r));
      return ipcMain.receive(frame, channel, wire);
    })();
  },
  on(channel: string, listener: RendererListener): FakeIpcRenderer {
    const frame = callingFrame('ipcRenderer.on');
    const w = (...args: unknown[]) => listener({ sender: ipcRenderer, ports: [] }, ...args);
    wrapped.set(listener, w);
    frame.rendererEvents.on(channel, w);
    return ipcRenderer;
  },
  removeListener(channel: string, listener: RendererListener): FakeIpcRenderer {
    const w = wrapped.get(listener);
    if (w) callingFrame('ipcRenderer.removeListener').rendererEvents.removeListener(channel, w);
    return ipcRenderer;
  },
  off(channel: string, listener: RendererListener): FakeIpcRenderer { return ipcRenderer.removeListener(channel, listener); },
  listenerCount(channel: string): number { return callingFrame('ipcRenderer.listenerCount').rendererEvents.listenerCount(channel); },
};

/**
 * What crosses the context bridge is a copy (Electron docs, context-bridge "Parameter / Error /
 * Return Type support"): plain data is copied, prototypes are lost, functions are proxied so a
 * call runs in the world that owns them, promises are proxied and their values copied.
 */
function bridgeCopy(value: unknown, frame: WebFrameMain, depth = 0): unknown {
  if (depth > 1000) throw new Error('Object is too deep');
  if (typeof value === 'function') {
    const fn = value as (...a: unknown[]) => unknown;
    return (...args: unknown[]) => bridgeCopy(inFrame(frame, () => fn(...args.map((a) => bridgeCopy(a, frame, depth + 1)))), frame, depth + 1);
  }
  if (value instanceof Promise) return value.then((v) => bridgeCopy(v, frame, depth + 1));
  if (value instanceof Error) return new Error(value.message);
  if (Array.isArray(value)) return value.map((v) => bridgeCopy(v, frame, depth + 1));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, bridgeCopy(v, frame, depth + 1)]));
  }
  return value;
}

/**
 * Every exposeInMainWorld the preload made when it was evaluated. The module is evaluated once
 * per test file, so this outlives resetIpc, and control.ts replays it into each further frame.
 */
const exposures: { key: string; api: unknown }[] = [];

function expose(frame: WebFrameMain, apiKey: string, api: unknown): void {
  if (apiKey in frame.mainWorld) throw new Error('Cannot bind an API on top of an existing property on the window object');
  frame.mainWorld[apiKey] = bridgeCopy(api, frame);
}

export const contextBridge = {
  exposeInMainWorld(apiKey: string, api: unknown): void {
    expose(callingFrame('contextBridge.exposeInMainWorld'), apiKey, api);
    exposures.push({ key: apiKey, api });
  },
};

/** Whether the preload ran once already; if so, give `frame` what it exposed. */
export function replayPreload(frame: WebFrameMain): boolean {
  for (const e of exposures) expose(frame, e.key, e.api);
  return exposures.length > 0;
}

export function resetIpc(): void {
  ipcMain.clear();
  currentFrame = null;
}
