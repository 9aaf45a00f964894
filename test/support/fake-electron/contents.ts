/// <reference types="electron" />
import { EventEmitter } from 'node:events';
import { app } from './app.js';
import { browserState, deliver, destroyedError, makeEvent, WebFrameMain } from './frames.js';

type PermissionRequestHandler = Parameters<Electron.Session['setPermissionRequestHandler']>[0];
type PermissionCheckHandler = Parameters<Electron.Session['setPermissionCheckHandler']>[0];
type Permission = Parameters<NonNullable<PermissionRequestHandler>>[1];

/**
 * Session: only the permission handlers. Without a handler Electron grants every request and
 * check ("By default, Electron will automatically approve all permission requests unless the
 * developer has manually configured a custom handler", docs/tutorial/security.md §5), which is
 * what makes installing one matter.
 */
export class Session extends EventEmitter implements Pick<Electron.Session, 'setPermissionRequestHandler' | 'setPermissionCheckHandler'> {
  private requestHandler: PermissionRequestHandler = null;
  private checkHandler: PermissionCheckHandler = null;

  setPermissionRequestHandler(handler: PermissionRequestHandler): void { this.requestHandler = handler; }
  setPermissionCheckHandler(handler: PermissionCheckHandler): void { this.checkHandler = handler; }

  /** Test: a page asks for `permission` (e.g. 'media', 'geolocation'); resolves with the answer. */
  requestPermission(contents: WebContents, permission: Permission): Promise<boolean> {
    const handler = this.requestHandler;
    if (!handler) return Promise.resolve(true);
    return new Promise((resolve) => {
      const details = { requestingUrl: contents.mainFrame.url, isMainFrame: true } as Electron.PermissionRequest;
      handler(contents as unknown as Electron.WebContents, permission, resolve, details);
    });
  }

  /** Test: a page checks `permission` synchronously (most web APIs check before they request). */
  checkPermission(contents: WebContents | null, permission: Permission, requestingOrigin: string): boolean {
    const handler = this.checkHandler;
    if (!handler) return true;
    const details = { isMainFrame: true, requestingUrl: contents?.mainFrame.url ?? '' } as Electron.PermissionCheckHandlerHandlerDetails;
    return handler(contents as unknown as Electron.WebContents | null, permission, requestingOrigin, details);
  }
}

export const defaultSession = new Session();

let nextWebContentsId = 1;
let nextProcessId = 100;

type WindowOpenHandler = Parameters<Electron.WebContents['setWindowOpenHandler']>[0];

/**
 * WebContents: a page and its frames. Creating one emits app 'web-contents-created'
 * synchronously, as Electron does from the WebContents constructor, so that handlers installed
 * there apply to every page (windows, window.open children, <webview> guests).
 * The `simulate…` methods are what the renderer or the user would do; each follows the event
 * order and default of Electron when no handler says otherwise.
 */
export class WebContents extends EventEmitter implements Pick<Electron.WebContents, 'id' | 'send' | 'isDestroyed'> {
  readonly id = nextWebContentsId++;
  readonly mainFrame: WebFrameMain;
  readonly session: Session = defaultSession;
  /** the documents the scheme handler served to loadURL, newest last */
  readonly served: Response[] = [];
  private destroyed = false;
  private windowOpenHandler: WindowOpenHandler | undefined;

  constructor(readonly webPreferences: Electron.WebPreferences = {}, private readonly openWindow?: (url: string, prefs: Electron.WebPreferences) => WebContents) {
    super();
    this.mainFrame = new WebFrameMain(this, null, nextProcessId++);
    app.emit('web-contents-created', makeEvent({}), this);
  }

  isDestroyed(): boolean { return this.destroyed; }

  /** d.ts WebContents.send: to the main frame's renderer. */
  send(channel: string, ...args: unknown[]): void {
    if (this.destroyed) throw destroyedError();
    deliver(this.mainFrame, channel, args);
  }

  setWindowOpenHandler(handler: WindowOpenHandler): void { this.windowOpenHandler = handler; }

  /**
   * A navigation the app starts itself: no will-navigate (d.ts: "will not emit when the navigation
   * is started programmatically with APIs like webContents.loadURL"). A scheme with a handler is
   * asked for the document, as the network stack would.
   */
  async loadURL(url: string): Promise<void> {
    if (this.destroyed) throw destroyedError();
    const handler = schemeHandlers.get(new URL(url).protocol.slice(0, -1));
    // A handler that throws fails the load (loadURL rejects); any response, 404 included, is shown.
    if (handler) this.served.push(await handler(new Request(url)));
    this.mainFrame.commit(url);
    this.emit('did-finish-load', makeEvent({}));
  }

  /** Closing the page: its frames go, later calls on it throw. */
  close(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    this.mainFrame.dispose();
    this.emit('destroyed', makeEvent({}));
  }

  /**
   * The page (a link, `location = …`) starts a main-frame navigation: 'will-frame-navigate', then
   * 'will-navigate' with the deprecated positional arguments still passed; preventDefault on
   * either stops it. Returns whether the page navigated.
   */
  simulateNavigation(url: string, event: 'will-navigate' | 'will-redirect' = 'will-navigate'): boolean {
    const params = { url, isSameDocument: false, isMainFrame: true, frame: this.mainFrame, initiator: this.mainFrame };
    const frameEv = makeEvent({ ...params });
    if (event === 'will-navigate') this.emit('will-frame-navigate', frameEv);
    const ev = makeEvent({ ...params });
    this.emit(event, ev, url, false, true, this.mainFrame.processId, this.mainFrame.routingId);
    if (frameEv.defaultPrevented || ev.defaultPrevented) return false;
    this.mainFrame.commit(url);
    return true;
  }

  /**
   * window.open / target=_blank: the handler decides; without one Electron allows it, and the
   * child inherits the opener's webPreferences (preload included). Returns the child, if any.
   */
  simulateWindowOpen(url: string, frameName = '', features = ''): WebContents | null {
    const details: Electron.HandlerDetails = { url, frameName, features, disposition: 'new-window', referrer: { url: this.mainFrame.url, policy: 'strict-origin-when-cross-origin' } };
    const answer = this.windowOpenHandler ? this.windowOpenHandler(details) : { action: 'allow' as const };
    if (answer.action !== 'allow' || !this.openWindow) return null;
    const child = this.openWindow(url, { ...this.webPreferences, ...answer.overrideBrowserWindowOptions?.webPreferences });
    this.emit('did-create-window', child, details);
    return child;
  }

  /**
   * A <webview> in the page. It exists only with webPreferences.webviewTag (d.ts: "Defaults to
   * false"); then 'will-attach-webview' may prevent it. Returns the guest's contents, if any.
   */
  simulateWebviewAttach(src: string): WebContents | null {
    if (!this.webPreferences.webviewTag) return null;
    const guestPrefs: Electron.WebPreferences = {};
    const params: Record<string, string> = { src };
    const ev = makeEvent({});
    this.emit('will-attach-webview', ev, guestPrefs, params);
    if (ev.defaultPrevented) return null;
    const guest = new WebContents(guestPrefs);
    guest.mainFrame.commit(params.src);
    this.emit('did-attach-webview', makeEvent({}), guest);
    return guest;
  }
}

/** protocol.handle's table, shared with window.ts (protocol) and loadURL here. */
export const schemeHandlers = new Map<string, (request: Request) => Response | Promise<Response>>();

export function resetSchemes(): void {
  schemeHandlers.clear();
  browserState.standardSchemes.clear();
  browserState.privilegedSchemes = [];
}
