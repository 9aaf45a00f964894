/// <reference types="electron" />
import { EventEmitter } from 'node:events';
import { chromiumOrigin, frameUrl } from './origin.js';

/**
 * The browser-side state the fake shares between its modules, and Electron's frame object.
 * Member names and types follow node_modules/electron/electron.d.ts (Electron 45); the
 * `implements Pick<Electron.…>` clauses make the typecheck hold them to it.
 */
export const browserState = {
  ready: false,
  quitting: false,
  /** set once app.quit() ran to the end: the process would now exit */
  exited: false,
  singleInstanceLock: true,
  version: '0.0.0-fake',
  /** schemes registered with privileges.standard (d.ts: Protocol.registerSchemesAsPrivileged) */
  standardSchemes: new Set<string>(),
  privilegedSchemes: [] as Electron.CustomScheme[],
  /** every BrowserWindow not yet destroyed, in creation order */
  windows: new Set<{ close(): void; isDestroyed(): boolean }>(),
};

/** Electron's Event<Params> (d.ts line 16): the params plus preventDefault/defaultPrevented. */
export type FakeEvent<P extends object = object> = P & { preventDefault(): void; readonly defaultPrevented: boolean };

export function makeEvent<P extends object>(params: P): FakeEvent<P> {
  let prevented = false;
  const ev = { preventDefault() { prevented = true; }, get defaultPrevented() { return prevented; } };
  // Copy the params' own descriptors so getters (IpcMainInvokeEvent.senderFrame) stay getters.
  return Object.defineProperties(ev, Object.getOwnPropertyDescriptors(params)) as FakeEvent<P>;
}

/** What Electron throws when a destroyed BrowserWindow or WebContents is used. */
export const destroyedError = (): TypeError => new TypeError('Object has been destroyed');

let nextFrameTreeNodeId = 1;
let nextRoutingId = 1;

/** The part of a WebContents a frame needs; the class lives in contents.ts. */
export interface FrameOwner {
  readonly id: number;
  readonly webPreferences: Electron.WebPreferences;
}

/**
 * WebFrameMain: the browser's handle on one frame. `url` and `origin` are Chromium's, not Node's
 * (see origin.ts). `frameTreeNodeId` is browser-global and fixed for the frame's life (d.ts).
 * The renderer half of a frame lives here too: `rendererEvents` is what the frame's
 * ipcRenderer hears, and `mainWorld` is its `window` as contextBridge fills it.
 */
export class WebFrameMain extends EventEmitter implements Pick<Electron.WebFrameMain,
  'url' | 'origin' | 'frameTreeNodeId' | 'routingId' | 'processId' | 'detached' | 'name' | 'isDestroyed'> {
  readonly frameTreeNodeId = nextFrameTreeNodeId++;
  readonly routingId = nextRoutingId++;
  readonly name: string;
  readonly frames: WebFrameMain[] = [];
  readonly rendererEvents = new EventEmitter();
  readonly mainWorld: Record<string, unknown> = Object.create(null);
  private currentUrl = '';
  private destroyed = false;

  constructor(readonly owner: FrameOwner, readonly parent: WebFrameMain | null, readonly processId: number, name = '') {
    super();
    this.name = name;
  }

  get url(): string { return this.currentUrl; }
  get origin(): string { return chromiumOrigin(this.currentUrl, browserState.standardSchemes, this.parent?.origin); }
  get top(): WebFrameMain { return this.parent ? this.parent.top : this; }
  get detached(): boolean { return this.destroyed; }
  get framesInSubtree(): WebFrameMain[] { return [this, ...this.frames.flatMap((f) => f.framesInSubtree)]; }
  isDestroyed(): boolean { return this.destroyed; }

  /** d.ts: WebFrameMain.send — to this frame's renderer, arguments structured-cloned. */
  send(channel: string, ...args: unknown[]): void {
    if (this.destroyed) throw destroyedError();
    deliver(this, channel, args);
  }

  /** Test: the document of this frame becomes `url` (the browser already allowed it). */
  commit(url: string): void {
    this.currentUrl = frameUrl(url, browserState.standardSchemes);
    for (const f of this.frames) f.dispose();
    this.frames.length = 0;
  }

  /** Test: the document adds an iframe showing `url` (same renderer process). */
  addChild(url: string, name = ''): WebFrameMain {
    const child = new WebFrameMain(this.owner, this, this.processId, name);
    child.commit(url);
    this.frames.push(child);
    return child;
  }

  /** The frame is gone (its document navigated away or its contents closed). */
  dispose(): void {
    this.destroyed = true;
    for (const f of this.frames) f.dispose();
    this.rendererEvents.removeAllListeners();
  }
}

/**
 * Browser → renderer: arguments are structured-cloned at once (d.ts WebContents.send: "Sending
 * Functions, Promises, Symbols, WeakMaps, or WeakSets will throw an exception") and arrive
 * later, in the renderer's own turn.
 */
export function deliver(frame: WebFrameMain, channel: string, args: unknown[]): void {
  const wire = structuredClone(args);
  setImmediate(() => { if (!frame.isDestroyed()) frame.rendererEvents.emit(channel, ...wire); });
}
