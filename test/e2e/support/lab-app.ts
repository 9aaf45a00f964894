import { execFile } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { tempHome } from '../support.js';

const run = promisify(execFile);

export interface CliResult { code: number; stdout: string; stderr: string }

/**
 * What the lab e2e files share: a private app home (the GUI's and the CLI's), and `vlx` on
 * it as a person would type it, for setup the UI has no part in, for cleanup, and as the
 * "other workstation". A failed command is a result (code, output), never an exception.
 */
export interface LabApp {
  appHome: string;
  vlx(...args: string[]): Promise<CliResult>;
  /** `vlx lab up` (idempotent: check and repair) on this home, then the lab's nodes as `lab status` lists them. */
  labNodes(): Promise<LabNode[]>;
  cleanup(): void;
}

export interface LabNode { name: string; address: string; state: string }

export function labApp(): LabApp {
  const home = tempHome();
  const appHome = join(home.dir, 'app');
  const vlx: LabApp['vlx'] = async (...args) => {
    try {
      const r = await run(process.execPath, ['dist/vlx.mjs', ...args], { env: { ...process.env, VLX_HOME: appHome }, timeout: 300_000 });
      return { code: 0, stdout: r.stdout, stderr: r.stderr };
    } catch (e) {
      const x = e as { code?: number; stdout?: string; stderr?: string };
      return { code: typeof x.code === 'number' ? x.code : 1, stdout: x.stdout ?? '', stderr: x.stderr ?? '' };
    }
  };
  return {
    appHome,
    vlx,
    async labNodes() {
      // The lab is shared: its database may be in a state another branch left (a lab up that fails
      // at its database step still registers the cluster). What the tests need is running nodes.
      const up = await vlx('lab', 'up');
      if (up.code !== 0) process.stderr.write(`note: lab up: ${up.stderr.trim().split('\n').at(-1)}\n`);
      const status = await vlx('lab', 'status', '--json');
      if (status.code !== 0) throw new Error(`vlx lab status failed (${status.code}): ${status.stderr}`);
      return (JSON.parse(status.stdout) as { nodes: LabNode[] }).nodes.map((n) => ({ name: n.name, address: n.address, state: n.state }));
    },
    cleanup: home.cleanup,
  };
}

/** Where a spec writes its screenshots: VLX_SCREENS if set, else test-results/screenshots; made if missing. */
export function screensDir(fallback = join(process.cwd(), 'test-results', 'screenshots')): string {
  const dir = process.env.VLX_SCREENS ?? fallback;
  mkdirSync(dir, { recursive: true });
  return dir;
}
