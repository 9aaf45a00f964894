import type { Command } from 'commander';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { action } from './output.js';
import { appHome } from '../config/paths.js';
import { checkInt } from '../util/names.js';
import { startWebBridge } from '../web/server.js';
import { createAppServices } from '../services/app.js';

const BROWSERS = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

export function registerGui(program: Command): void {
  program
    .command('gui')
    .description('serve the app on 127.0.0.1 and open it in Chromium (app mode)')
    .option('--port <n>', 'listen on this port (default: a free one)')
    .option('--no-open', 'only print the URL')
    .action(action(async (o: { port?: string; open: boolean }) => {
      const port = o.port === undefined ? 0 : checkInt(o.port, '--port', 1, 65535);
      const services = createAppServices({ face: 'web' });
      const bridge = await startWebBridge({ services, port });
      process.stdout.write(`VirtuaLinux Manager (browser bridge): ${bridge.url}\n`);
      let browser: ReturnType<typeof spawn> | undefined;
      if (o.open) {
        const exe = process.env.VLX_BROWSER || BROWSERS.find((b) => existsSync(b));
        if (!exe) {
          process.stderr.write('no Chromium found: open the URL above in a browser on this machine\n');
        } else {
          // A profile of our own, so app mode does not attach to (or disturb) the person's browser session.
          const profile = join(appHome(), 'chromium-profile');
          mkdirSync(profile, { recursive: true, mode: 0o700 });
          const args = [`--app=${bridge.url}`, `--user-data-dir=${profile}`, '--no-first-run', '--disable-background-networking', '--window-size=1400,900'];
          if (process.getuid?.() === 0) args.push('--no-sandbox');
          browser = spawn(exe, args, { stdio: 'ignore' });
          process.stdout.write(`opened ${exe} in app mode; close its window or press Ctrl-C to stop\n`);
        }
      }
      await new Promise<void>((done) => {
        const stop = () => done();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
        browser?.once('exit', (code) => {
          // A window closed by the person ends the session; a browser that could not start
          // (no display on a headless machine) leaves the bridge serving the printed URL.
          if (code === 0) stop();
          else process.stderr.write(`Chromium exited (code ${code}) without a window, perhaps no display: open the URL above in a browser; Ctrl-C stops\n`);
        });
      });
      browser?.kill();
      await bridge.close();
      await services.close();
    }));
}
