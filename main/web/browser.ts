import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';

const BROWSERS = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

/** VLX_BROWSER, else the first Chromium found. */
export function findBrowser(): string | undefined {
  return process.env.VLX_BROWSER || BROWSERS.find((b) => existsSync(b));
}

/**
 * Chromium features the app's own windows (`vlx gui`'s and Electron's) turn off.
 * DeferRendererTasksAfterInput holds the page's network and IPC tasks after a key press until
 * the next frame is out: a console's echo that is back 1 ms after the key waits for that frame,
 * lands just after it, and is painted one frame later still. Measured in Debian's Chromium 156
 * (issue 13): key → echo painted 30 ms with it, 13 ms without; the echo's message reaches the
 * page 13 ms after the key with it, 1 ms without.
 */
export const APP_DISABLED_FEATURES: readonly string[] = ['DeferRendererTasksAfterInput'];

/**
 * Chromium in app mode on a launch page's file:// address. Its command line is readable by
 * every local user (`ps`), so it carries no secret: only the page's path, which only we can read.
 * A profile of our own keeps app mode from attaching to (or disturbing) the person's browser.
 */
export function openAppWindow(exe: string, fileUrl: string, profileDir: string): ChildProcess {
  if (!fileUrl.startsWith('file://')) throw new Error(`openAppWindow: ${fileUrl} is not a file:// address`);
  mkdirSync(profileDir, { recursive: true, mode: 0o700 });
  const args = [`--app=${fileUrl}`, `--user-data-dir=${profileDir}`, '--no-first-run', '--disable-background-networking', '--window-size=1400,900',
    `--disable-features=${APP_DISABLED_FEATURES.join(',')}`];
  if (process.getuid?.() === 0) args.push('--no-sandbox'); // Chromium's sandbox refuses to run as root
  return spawn(exe, args, { stdio: 'ignore' });
}
