import { VlxError } from '../errors.js';
import { findTool, missingPackages, REQUIREMENTS } from './requirements.js';
import { runLocal } from './local.js';

export interface ToolEnv {
  isPresent: (tool: string) => boolean;
  /** Path of apt-get, or undefined on a machine without it. */
  aptGet: string | undefined;
  install: (aptGet: string, pkgs: string[]) => Promise<{ code: number; stderr: string }>;
}

const systemEnv = (): ToolEnv => ({
  isPresent: (t) => findTool(t) !== undefined,
  aptGet: findTool('apt-get'),
  install: (apt, pkgs) => runLocal(apt, ['install', '-y', '--no-install-recommends', ...pkgs], undefined, { DEBIAN_FRONTEND: 'noninteractive' }),
});

/**
 * Install the Debian packages behind any missing tool (saying which), or fail naming them
 * when this machine has no apt-get. Returns the packages it installed.
 */
export async function ensureTools(onProgress: (msg: string) => void, env: ToolEnv = systemEnv()): Promise<string[]> {
  const pkgs = missingPackages(env.isPresent);
  if (pkgs.length === 0) return [];
  if (!env.aptGet) {
    const tools = REQUIREMENTS.filter((r) => pkgs.includes(r.pkg) && !env.isPresent(r.tool)).map((r) => r.tool);
    throw new VlxError('missing-tool', `missing ${tools.join(', ')}: install the package${pkgs.length > 1 ? 's' : ''} ${pkgs.join(', ')}`, 'this machine has no apt-get; install them with its package manager');
  }
  onProgress(`installing ${pkgs.join(' ')} (apt-get install -y --no-install-recommends)`);
  const r = await env.install(env.aptGet, pkgs);
  if (r.code !== 0) {
    throw new VlxError('missing-tool', `apt-get could not install ${pkgs.join(', ')}: ${r.stderr.trim().split('\n').slice(-3).join(' ')}`, `install them by hand: apt-get install ${pkgs.join(' ')}`);
  }
  const still = missingPackages(env.isPresent);
  if (still.length > 0) throw new VlxError('missing-tool', `still missing after installing: ${still.join(', ')}`);
  return pkgs;
}
