import type { Command } from 'commander';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { action } from './output.js';
import { appHome } from '../config/paths.js';
import { checkInt } from '../util/names.js';
import { startWebBridge, type WebBridge } from '../web/server.js';
import { launchDir, removeStalePages, writeLaunchPage, type LaunchPage } from '../web/launch.js';
import { findBrowser, openAppWindow } from '../web/browser.js';
import { createServices as createAppServices } from '../service/index.js';
import { startAgent } from '../agent/server.js';
import { agentSocketPath } from '../agent/protocol.js';

/**
 * No secret reaches a command line or an environment here: Chromium is opened on the file://
 * address of a launch page (0600) that carries a one-time code, and the person is shown that
 * page's path, never the code.
 */
export function registerGui(program: Command): void {
  program
    .command('gui')
    .description('serve the app on 127.0.0.1 and open it in Chromium (app mode)')
    .option('--port <n>', 'listen on this port (default: a free one)')
    .option('--no-open', 'only print where the one-time sign-in page is')
    .action(action(async (o: { port?: string; open: boolean }) => {
      const port = o.port === undefined ? 0 : checkInt(o.port, '--port', 1, 65535);
      const services = createAppServices({ face: 'web' });
      const bridge = await startWebBridge({ services, port });
      // While the app runs, vlx commands of this user attach to it and reuse its connections.
      const agent = await startAgent(services, agentSocketPath()).catch(() => undefined);
      const dir = launchDir(appHome());
      removeStalePages(dir);
      const pages = new Set<LaunchPage>();
      const newPage = () => {
        const page = writeLaunchPage(bridge, dir);
        pages.add(page);
        void page.gone.then(() => pages.delete(page));
        process.stdout.write(`sign-in page (one use, within 60 s): ${page.fileUrl}\n`);
        return page;
      };
      process.stdout.write(`VirtuaLinux Manager (browser bridge) on ${bridge.origin}\n`);
      const first = newPage();
      process.stdout.write('open the page above in a browser on this machine; press Enter here for a new page\n');
      const onLine = () => { newPage(); };
      process.stdin.on('data', onLine);
      process.stdin.on('error', () => undefined);

      let browser: ChildProcess | undefined;
      if (o.open) browser = openBrowser(bridge, first);
      await new Promise<void>((done) => {
        const stop = () => done();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        browser?.once('exit', (code) => {
          // A window closed by the person ends the session; a browser that could not start
          // (no display on a headless machine) leaves the bridge serving the printed page.
          if (code === 0) stop();
          else process.stderr.write(`Chromium exited (code ${code}) without a window, perhaps no display: open the page above in a browser; Ctrl-C stops\n`);
        });
      });
      process.stdin.off('data', onLine);
      process.stdin.destroy();
      browser?.kill();
      // An orderly close, within a bound: a call still waiting on a node that does not answer
      // must not keep a stopped app alive (tasks left running resume on the next run).
      let timer: NodeJS.Timeout | undefined;
      const closed = await Promise.race([
        (async () => {
          await agent?.close();
          await bridge.close();
          await Promise.all([...pages].map((p) => p.gone));
          await services.close();
          return true;
        })(),
        new Promise<false>((ok) => { timer = setTimeout(() => ok(false), CLOSE_WITHIN_MS); }),
      ]);
      clearTimeout(timer);
      if (!closed) {
        process.stderr.write(`vlx gui: connections still closing after ${CLOSE_WITHIN_MS / 1000} s: stopping anyway\n`);
        process.exit(0);
      }
    }));
}

/** How long the app may take to close its connections once asked to stop. */
const CLOSE_WITHIN_MS = 5000;

function openBrowser(bridge: WebBridge, page: LaunchPage): ChildProcess | undefined {
  const exe = findBrowser();
  if (!exe) {
    process.stderr.write('no Chromium found: open the page above in a browser on this machine\n');
    return undefined;
  }
  const child = openAppWindow(exe, page.fileUrl, join(appHome(), 'chromium-profile'));
  child.on('error', (e) => process.stderr.write(`could not start ${exe}: ${e.message}: open the page above in a browser\n`));
  process.stdout.write(`opened ${exe} in app mode on ${bridge.origin}; close its window or press Ctrl-C to stop\n`);
  return child;
}
