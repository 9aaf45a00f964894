/// <reference types="electron" />
import { EventEmitter } from 'node:events';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { app } from './app.js';
import { defaultSession, schemeHandlers, type Session, WebContents } from './contents.js';
import { browserState, destroyedError, makeEvent } from './frames.js';

let nextWindowId = 1;

/**
 * BrowserWindow: a window holding one WebContents. After destroy, reading `webContents`
 * throws as Electron's does ("Object has been destroyed"); 'closed' follows, then
 * app 'window-all-closed' when it was the last window and the app is not quitting.
 */
export class BrowserWindow extends EventEmitter implements Pick<Electron.BrowserWindow,
  'id' | 'isDestroyed' | 'show' | 'focus' | 'restore' | 'minimize' | 'isMinimized' | 'isVisible' | 'close' | 'destroy'> {
  static getAllWindows(): BrowserWindow[] { return [...browserState.windows] as BrowserWindow[]; }

  readonly id = nextWindowId++;
  private readonly contents: WebContents;
  private destroyed = false;
  private visible = false;
  private minimized = false;
  private shownReady = false;
  focused = false;

  constructor(readonly options: Electron.BrowserWindowConstructorOptions = {}) {
    super();
    if (!browserState.ready) throw new Error('Cannot create BrowserWindow before app is ready');
    this.contents = new WebContents(options.webPreferences ?? {}, (url, prefs) => {
      const child = new BrowserWindow({ webPreferences: prefs });
      child.webContents.mainFrame.commit(url);
      return child.webContents;
    });
    this.visible = options.show !== false;
    browserState.windows.add(this);
    app.emit('browser-window-created', makeEvent({}), this);
  }

  get webContents(): WebContents {
    if (this.destroyed) throw destroyedError();
    return this.contents;
  }

  /** d.ts: 'ready-to-show' is emitted once, when the page has rendered for the first time. */
  async loadURL(url: string): Promise<void> {
    await this.webContents.loadURL(url);
    if (!this.shownReady && !this.destroyed) { this.shownReady = true; this.emit('ready-to-show', makeEvent({})); }
  }

  isDestroyed(): boolean { return this.destroyed; }
  show(): void { this.visible = true; this.focused = true; }
  isVisible(): boolean { return this.visible; }
  focus(): void { this.focused = true; }
  minimize(): void { this.minimized = true; }
  isMinimized(): boolean { return this.minimized; }
  restore(): void { this.minimized = false; }

  /** 'close' may be prevented; otherwise the window is destroyed. */
  close(): void {
    if (this.destroyed) return;
    const ev = makeEvent({});
    this.emit('close', ev);
    if (!ev.defaultPrevented) this.destroy();
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.contents.close();
    browserState.windows.delete(this);
    this.emit('closed');
    if (browserState.windows.size === 0 && !browserState.quitting) app.emit('window-all-closed');
  }
}

/** d.ts interface Protocol: privileged schemes before ready, handlers after. */
export const protocol = {
  registerSchemesAsPrivileged(customSchemes: Electron.CustomScheme[]): void {
    // d.ts: "can only be used before the `ready` event of the `app` module gets emitted".
    if (browserState.ready) throw new Error('protocol.registerSchemesAsPrivileged should be called before app is ready');
    browserState.privilegedSchemes = customSchemes;
    browserState.standardSchemes.clear();
    for (const s of customSchemes) if (s.privileges?.standard) browserState.standardSchemes.add(s.scheme);
  },
  handle(scheme: string, handler: (request: Request) => Response | Promise<Response>): void {
    if (!browserState.ready) throw new Error('protocol.handle can only be used after app is ready');
    if (schemeHandlers.has(scheme)) throw new Error(`Failed to register protocol: ${scheme}`);
    schemeHandlers.set(scheme, handler);
  },
  unhandle(scheme: string): void { schemeHandlers.delete(scheme); },
  isProtocolHandled(scheme: string): Promise<boolean> { return Promise.resolve(schemeHandlers.has(scheme)); },
};

/** net.fetch: file: from disk (a missing file is a network error, not a 404), else a registered scheme. */
export const net = {
  async fetch(input: string | Request): Promise<Response> {
    const url = typeof input === 'string' ? input : input.url;
    const u = new URL(url);
    if (u.protocol === 'file:') {
      try {
        return new Response(await readFile(fileURLToPath(u)), { status: 200 });
      } catch {
        throw new TypeError('net::ERR_FILE_NOT_FOUND');
      }
    }
    const handler = schemeHandlers.get(u.protocol.slice(0, -1));
    if (handler) return handler(new Request(url));
    throw new TypeError(`net::ERR_UNKNOWN_URL_SCHEME (fake: ${u.protocol} is not served here)`);
  },
};

/** session.defaultSession exists only once the app is ready, as in Electron. */
export const session = {
  get defaultSession(): Session {
    if (!browserState.ready) throw new Error('Session can only be received when app is ready');
    return defaultSession;
  },
};

export const menuState = { applicationMenu: null as { items: Electron.MenuItemConstructorOptions[] } | null };

export const Menu = {
  buildFromTemplate(template: Electron.MenuItemConstructorOptions[]): { items: Electron.MenuItemConstructorOptions[] } { return { items: template }; },
  setApplicationMenu(menu: { items: Electron.MenuItemConstructorOptions[] } | null): void { menuState.applicationMenu = menu; },
};

export const shellState = { opened: [] as string[] };

export const shell = {
  openExternal(url: string): Promise<void> { shellState.opened.push(url); return Promise.resolve(); },
};
