import { chmodSync, lstatSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { LoginLink, WebBridge } from './server.js';

/**
 * How a browser gets a one-time code without the code ever being on a command line: a small
 * HTML page, readable only by its owner (0600, in a 0700 directory), that sends the browser
 * on to /auth?code=…. The browser is opened on the page's file:// address, which holds no
 * secret; the page is deleted as soon as its code is used or has expired.
 */
export interface LaunchPage {
  /** The page on disk, and the file:// address to open. */
  path: string;
  fileUrl: string;
  expiresAt: number;
  /** Resolves once the page is gone (code used or expired). */
  gone: Promise<void>;
}

const PREFIX = 'launch-';

export function launchDir(home: string): string {
  const dir = join(home, 'gui');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // mkdir's mode does not apply to a directory that was already there.
  const info = lstatSync(dir);
  if (!info.isDirectory()) throw new Error(`${dir}: must be a directory`);
  chmodSync(dir, 0o700);
  return dir;
}

export function writeLaunchPage(bridge: WebBridge, dir: string): LaunchPage {
  const link: LoginLink = bridge.newLogin();
  const path = join(dir, `${PREFIX}${bridge.port}-${randomBytes(6).toString('hex')}.html`);
  writeFileSync(path, launchHtml(link.url), { mode: 0o600, flag: 'wx' });
  const gone = link.settled.then(() => { rmSync(path, { force: true }); });
  return { path, fileUrl: pathToFileURL(path).href, expiresAt: link.expiresAt, gone };
}

/** Pages left behind by a bridge that was killed: their codes died with it. */
export function removeStalePages(dir: string, olderThanMs = 60_000): void {
  for (const name of readdirSync(dir)) {
    if (!name.startsWith(PREFIX)) continue;
    const file = join(dir, name);
    try {
      if (Date.now() - statSync(file).mtimeMs > olderThanMs) rmSync(file, { force: true });
    } catch { /* gone meanwhile */ }
  }
}

function launchHtml(url: string): string {
  const u = url.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
  return [
    '<!doctype html>', '<meta charset="utf-8">', '<meta name="referrer" content="no-referrer">',
    `<meta http-equiv="refresh" content="0;url=${u}">`, '<title>VirtuaLinux Manager</title>',
    `<script>location.replace(${JSON.stringify(url)});</script>`,
    '<p>Opening VirtuaLinux Manager… (this page works once, within 60 s of being written)</p>', '',
  ].join('\n');
}
