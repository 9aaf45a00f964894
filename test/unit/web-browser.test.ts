import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openAppWindow } from '../../main/web/browser.js';
import { launchDir, writeLaunchPage } from '../../main/web/launch.js';
import { startTestBridge, type TestBridge } from './web-helpers.js';

/**
 * What `vlx gui` hands the browser process: a file:// address on its command line and nothing
 * secret there or in its environment. A stand-in browser records both, as `ps` and
 * /proc/PID/environ would show them.
 */
let t: TestBridge;
beforeAll(async () => { t = await startTestBridge(); });
afterAll(async () => { await t.close(); });

describe('the browser launch', () => {
  it('carries no code in argv or environment', async () => {
    const record = join(t.dir, 'seen');
    const fake = join(t.dir, 'fake-chromium');
    writeFileSync(fake, `#!/bin/sh\nprintf '%s\\n' "$@" > ${record}.argv\nenv > ${record}.env\n`);
    chmodSync(fake, 0o755);
    const page = writeLaunchPage(t.bridge, launchDir(join(t.dir, 'home')));
    const code = /code=([A-Za-z0-9_-]+)/.exec(readFileSync(page.path, 'utf8'))![1]!;
    const child = openAppWindow(fake, page.fileUrl, join(t.dir, 'home', 'profile'));
    expect(await new Promise((ok) => child.once('exit', ok))).toBe(0);
    const argv = readFileSync(`${record}.argv`, 'utf8');
    const env = readFileSync(`${record}.env`, 'utf8');
    expect(argv).toContain(`--app=${page.fileUrl}`);
    // issue 13: the echo is not held back behind the frame after each key
    expect(argv.split('\n')).toContain('--disable-features=DeferRendererTasksAfterInput');
    expect(argv).not.toContain(code);
    expect(env).not.toContain(code);
    expect(argv + env).not.toMatch(/auth\?code=/);
  });

  it('refuses anything but a file:// address', () => {
    expect(() => openAppWindow('/bin/true', `${t.bridge.origin}/auth?code=x`, join(t.dir, 'p'))).toThrow(/not a file:\/\/ address/);
  });
});
