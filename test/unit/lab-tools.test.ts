import { describe, expect, it } from 'vitest';
import { VlxError } from '../../main/errors.js';
import { ensureTools, type ToolEnv } from '../../main/lab/tools.js';

/** A machine described by the tools it has; installing a package adds the tools it ships. */
function machine(missing: string[], aptGet: string | undefined, installWorks = true) {
  const absent = new Set(missing);
  const calls: string[][] = [];
  const env: ToolEnv = {
    isPresent: (t) => !absent.has(t),
    aptGet,
    install: async (_apt, pkgs) => {
      calls.push(pkgs);
      if (!installWorks) return { code: 100, stderr: 'E: Unable to locate package openssh-server' };
      const ships: Record<string, string[]> = { 'openssh-server': ['sshd'], 'openssh-client': ['ssh', 'ssh-keygen'], 'util-linux': ['unshare', 'nsenter'] };
      for (const p of pkgs) for (const t of ships[p] ?? []) absent.delete(t);
      return { code: 0, stderr: '' };
    },
  };
  return { env, calls };
}

async function errorOf(p: Promise<unknown>): Promise<VlxError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof VlxError) return e;
    throw e;
  }
  throw new Error('expected a VlxError');
}

describe('ensureTools', () => {
  it('does nothing when every tool is there', async () => {
    const { env, calls } = machine([], '/usr/bin/apt-get');
    expect(await ensureTools(() => {}, env)).toEqual([]);
    expect(calls).toEqual([]);
  });

  it('installs the missing packages once each and says so', async () => {
    const { env, calls } = machine(['sshd', 'ssh', 'ssh-keygen'], '/usr/bin/apt-get');
    const said: string[] = [];
    expect(await ensureTools((m) => said.push(m), env)).toEqual(['openssh-server', 'openssh-client']);
    expect(calls).toEqual([['openssh-server', 'openssh-client']]);
    expect(said).toEqual(['installing openssh-server openssh-client (apt-get install -y --no-install-recommends)']);
  });

  it.each([
    [['sshd'], 'missing sshd: install the package openssh-server'],
    [['unshare', 'ip'], 'missing ip, unshare: install the packages iproute2, util-linux'],
  ])('without apt-get, missing %j → missing-tool naming the package', async (missing, message) => {
    const { env } = machine(missing, undefined);
    const e = await errorOf(ensureTools(() => {}, env));
    expect(e.code).toBe('missing-tool');
    expect(e.message).toBe(message);
  });

  it('a failed apt-get is a missing-tool error naming the packages and the fix', async () => {
    const { env } = machine(['sshd'], '/usr/bin/apt-get', false);
    const e = await errorOf(ensureTools(() => {}, env));
    expect(e.code).toBe('missing-tool');
    expect(e.message).toBe('apt-get could not install openssh-server: E: Unable to locate package openssh-server');
    expect(e.hint).toBe('install them by hand: apt-get install openssh-server');
  });

  it('a package that does not bring its tool is reported', async () => {
    const { env } = machine(['keepalived'], '/usr/bin/apt-get');
    const e = await errorOf(ensureTools(() => {}, env));
    expect(e.message).toBe('still missing after installing: keepalived');
  });
});
