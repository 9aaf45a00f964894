// `vlx agent`: CLI runs of the same user attach to it and use its warm connections.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { appPaths } from '../../main/config/paths.js';

const VLX = join(process.cwd(), 'bin/vlx');
let home: string;
let agent: ChildProcess | undefined;

interface Run { code: number; stdout: string; stderr: string; ms: number }
function vlx(args: string[], env: Record<string, string> = {}): Promise<Run> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    execFile(VLX, args, { env: { ...process.env, VLX_HOME: home, VLX_CLUSTER: '', ...env } }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr, ms: performance.now() - t0 });
    });
  });
}

function startAgent(): ChildProcess {
  return spawn(VLX, ['agent', '--quiet'], { env: { ...process.env, VLX_HOME: home, VLX_CLUSTER: '' }, stdio: 'ignore' });
}

async function until(what: string, ok: () => Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`${what} did not happen within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'vlx-cli-agent-'));
  copyFileSync(appPaths.clusters(), join(home, 'clusters.json'));
  copyFileSync(appPaths.knownHosts(), join(home, 'known_hosts'));
  expect((await vlx(['cluster', 'use', 'lab'])).code).toBe(0);
});
afterAll(async () => {
  agent?.kill('SIGKILL');
  rmSync(home, { recursive: true, force: true });
});

describe('vlx agent', () => {
  it('a cold vlx exec attaches to a running agent and runs on its connections', async () => {
    agent = startAgent();
    await until('the agent answering', async () => (await vlx(['agent', 'status'])).code === 0);
    // A fresh agent has used no node yet: the exec below is what makes it pick one.
    const before = JSON.parse((await vlx(['agent', 'status', '--json'])).stdout) as { running: boolean; nodeInUse?: string };
    expect(before).toMatchObject({ running: true });
    expect(before.nodeInUse).toBeUndefined();
    const r = await vlx(['exec', '--json', '--', 'hostname']);
    expect(r.code, r.stderr).toBe(0);
    const ran = (JSON.parse(r.stdout) as { node: string; stdout: string }[])[0]!;
    expect(ran.stdout.trim()).toBe(ran.node);
    const after = JSON.parse((await vlx(['agent', 'status', '--json'])).stdout) as { nodeInUse?: string };
    expect(after.nodeInUse).toBe(ran.node);
    // Warm: every node once, then time a few rounds (logged, not asserted: speed is the benchmark's).
    expect((await vlx(['exec', '--all', '--', 'true'])).code).toBe(0);
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      const x = await vlx(['exec', '--all', '--', 'true']);
      expect(x.code, x.stderr).toBe(0);
      times.push(x.ms);
    }
    process.stderr.write(`vlx exec --all via the agent: ${times.map((t) => t.toFixed(0)).join(', ')} ms\n`);
  });

  it('--cluster and --accept-new-host-key runs serve themselves; bad input is refused the same either way', async () => {
    const own = await vlx(['--cluster', 'lab', 'exec', '--', 'true']);
    expect(own.code, own.stderr).toBe(0);
    const bad = await vlx(['exec', '--nodes', 'n1;id', '--', 'true']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^vlx: error: --nodes: /);
    const badVc = await vlx(['vc', 'stop', 'Bad Name']);
    expect(badVc.code).toBe(2);
    expect(badVc.stderr).toMatch(/^vlx: error: NAME: must be/);
  });

  it('when the agent dies, the next command serves itself; a new agent takes the stale socket over', async () => {
    agent!.kill('SIGKILL');
    await new Promise((r) => agent!.once('exit', r));
    expect(existsSync(join(home, 'agent.sock'))).toBe(true);
    const r = await vlx(['exec', '--', 'true']);
    expect(r.code, r.stderr).toBe(0);
    agent = startAgent();
    await until('a new agent answering', async () => (await vlx(['agent', 'status'])).code === 0);
    const stop = await vlx(['agent', 'stop']);
    expect(stop.code, stop.stderr).toBe(0);
    expect((await vlx(['agent', 'status'])).code).toBe(3);
  });
});
