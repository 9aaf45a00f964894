import { describe, expect, it, vi } from 'vitest';
import { becomeReady, BrowserWindow, browserState, app, menuState } from '../support/fake-electron/control.js';

/**
 * electron/main.ts itself, imported as Electron would run it, with the fake `electron` and a
 * stub in place of the real services (no SSH, no database): the start order, the menu, a second
 * instance, and a quit that closes the services before the process exits.
 */
const stub = vi.hoisted(() => ({ created: [] as unknown[], closed: 0, release: () => {} }));

vi.mock('../../main/service/index.js', async () => {
  const { EventHub } = await import('../../main/api/events.js');
  return {
    createServices: (opts: unknown) => {
      stub.created.push(opts);
      return {
        methods: {},
        events: new EventHub(),
        // Closing waits until the test lets it finish, to see that the quit waits too.
        close: () => { stub.closed++; return new Promise<void>((ok) => { stub.release = ok; }); },
      };
    },
  };
});

describe('electron main', () => {
  it('registers the scheme before ready, then serves, hardens, builds the menu and opens the window', async () => {
    await import('../../electron/main.js');
    expect(browserState.standardSchemes.has('vlx-app')).toBe(true);
    expect(BrowserWindow.getAllWindows()).toHaveLength(0);
    expect(stub.created).toEqual([]);
    // Before Chromium starts, as `vlx gui`'s window: the console's echo is not held behind the next frame (issue 13).
    expect(app.commandLine.getSwitchValue('disable-features')).toBe('DeferRendererTasksAfterInput');
    expect(app.commandLine.late).toEqual([]);

    becomeReady();
    await vi.waitFor(() => expect(BrowserWindow.getAllWindows()).toHaveLength(1));
    expect(stub.created).toEqual([{ face: 'electron', version: browserState.version }]);
    const [win] = BrowserWindow.getAllWindows();
    await vi.waitFor(() => expect(win.isVisible()).toBe(true));
    expect(win.webContents.mainFrame.url).toBe('vlx-app://app/index.html');
    expect(win.webContents.simulateNavigation('https://evil.example/')).toBe(false);
    expect(menuState.applicationMenu?.items.map((m) => m.label)).toEqual(['File', 'Edit', 'View', 'Window', 'Help']);
  });

  it('a second instance brings the window back', () => {
    const [win] = BrowserWindow.getAllWindows();
    win.minimize();
    win.focused = false;
    app.emit('second-instance', {}, [], '/', {});
    expect([win.isMinimized(), win.focused]).toEqual([false, true]);
  });

  it('closing the last window quits, and the process ends only after the services have closed', async () => {
    const [win] = BrowserWindow.getAllWindows();
    win.close();
    expect(stub.closed).toBe(1);
    expect(browserState.exited).toBe(false);
    stub.release();
    await vi.waitFor(() => expect(browserState.exited).toBe(true));
    expect(stub.closed).toBe(1);
  });
});
