import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { launchDir, writeLaunchPage } from '../../main/web/launch.js';
import { http, startTestBridge, type TestBridge } from './web-helpers.js';

/**
 * The launch as `vlx gui` does it, in Debian's real Chromium: the browser opens a file://
 * page (owner-only) that sends it on to /auth with a one-time code; it arrives at the app
 * with the session cookie, and the page is deleted once its code is spent.
 */
let t: TestBridge;
let browser: Browser;

beforeAll(async () => {
  t = await startTestBridge({ codeTtlMs: 2000 });
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--headless', '--disable-gpu', '--no-first-run'] });
}, 30_000);
afterAll(async () => {
  await browser?.close();
  await t?.close();
});

describe('launch page', () => {
  it('is private, carries the code only in its content, and lands the browser in the app signed in', async () => {
    const dir = launchDir(join(t.dir, 'home'));
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    const page = writeLaunchPage(t.bridge, dir);
    expect(statSync(page.path).mode & 0o777).toBe(0o600);
    expect(page.fileUrl).toMatch(/^file:\/\/.*\/gui\/launch-\d+-[0-9a-f]+\.html$/);
    const code = /auth\?code=([A-Za-z0-9_-]+)/.exec(readFileSync(page.path, 'utf8'))![1]!;
    expect(page.fileUrl).not.toContain(code);

    const tab = await browser.newPage();
    await tab.goto(page.fileUrl);
    await tab.waitForURL(`${t.bridge.origin}/`);
    await expect.poll(() => tab.title()).toBe('app');
    await page.gone;
    expect(existsSync(page.path)).toBe(false);
    // The code is spent: a second use is refused with words that say so.
    const again = await http(t.bridge.port, `/auth?code=${code}`);
    expect(again.status).toBe(403);
    expect(again.body).toMatch(/already used or has expired/);
    await tab.close();
  }, 30_000);

  it('is deleted when its code expires unused', async () => {
    const page = writeLaunchPage(t.bridge, launchDir(join(t.dir, 'home')));
    expect(existsSync(page.path)).toBe(true);
    await page.gone;
    expect(existsSync(page.path)).toBe(false);
  });
});
