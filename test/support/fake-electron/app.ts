/// <reference types="electron" />
import { EventEmitter } from 'node:events';
import { browserState, makeEvent } from './frames.js';

/**
 * Electron's `app.commandLine` (d.ts: interface CommandLine): the switches Chromium reads when
 * it starts. One appended once Chromium is up is recorded as late: Chromium never sees it.
 */
class FakeCommandLine implements Electron.CommandLine {
  readonly switches = new Map<string, string>();
  readonly late: string[] = [];
  readonly args: string[] = [];
  appendSwitch(name: string, value?: string): void {
    if (browserState.ready) this.late.push(name);
    this.switches.set(name, value ?? '');
  }
  appendArgument(value: string): void { this.args.push(value); }
  hasSwitch(name: string): boolean { return this.switches.has(name); }
  getSwitchValue(name: string): string { return this.switches.get(name) ?? ''; }
  removeSwitch(name: string): void { this.switches.delete(name); }
  reset(): void { this.switches.clear(); this.late.length = 0; this.args.length = 0; }
}

/**
 * Electron's `app`, for the part of its life cycle the project uses (d.ts: interface App).
 * `ready` happens only when a test says so (control.ts), as it happens only once Chromium
 * is up; `quit()` runs before-quit → windows close → will-quit → quit, and either of the two
 * preventable events stops it, as in Electron.
 */
class FakeApp extends EventEmitter implements Pick<Electron.App,
  'whenReady' | 'isReady' | 'requestSingleInstanceLock' | 'getVersion' | 'quit' | 'showAboutPanel' | 'setAboutPanelOptions' | 'commandLine'> {
  readonly commandLine = new FakeCommandLine();
  private readyPromise!: Promise<void>;
  private resolveReady!: () => void;
  aboutPanelOptions: Electron.AboutPanelOptionsOptions | undefined;
  aboutPanelShown = 0;

  constructor() {
    super();
    this.resetReady();
  }

  resetReady(): void {
    this.readyPromise = new Promise((ok) => { this.resolveReady = ok; });
  }

  whenReady(): Promise<void> { return this.readyPromise; }
  isReady(): boolean { return browserState.ready; }
  requestSingleInstanceLock(): boolean { return browserState.singleInstanceLock; }
  getVersion(): string { return browserState.version; }
  setAboutPanelOptions(options: Electron.AboutPanelOptionsOptions): void { this.aboutPanelOptions = options; }
  showAboutPanel(): void { this.aboutPanelShown++; }

  /** Test: Chromium is up. Emits 'ready', then whenReady() resolves. */
  becomeReady(): void {
    if (browserState.ready) return;
    browserState.ready = true;
    this.emit('will-finish-launching');
    this.emit('ready', makeEvent({}), {});
    this.resolveReady();
  }

  quit(): void {
    if (browserState.exited) return;
    const before = makeEvent({});
    this.emit('before-quit', before);
    if (before.defaultPrevented) return;
    browserState.quitting = true;
    // d.ts 'window-all-closed': not emitted when the app is quitting through app.quit().
    for (const w of [...browserState.windows]) w.close();
    if ([...browserState.windows].some((w) => !w.isDestroyed())) { browserState.quitting = false; return; }
    const will = makeEvent({});
    this.emit('will-quit', will);
    if (will.defaultPrevented) { browserState.quitting = false; return; }
    browserState.exited = true;
    this.emit('quit', makeEvent({}), 0);
  }
}

export const app = new FakeApp();
