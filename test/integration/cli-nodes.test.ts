// `vlx cluster|nodes|exec` as a script would use them, against the running lab.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { appPaths } from '../../main/config/paths.js';
import { labFiles } from './support/lab.js';

const VLX = join(process.cwd(), 'bin/vlx');
let home: string;

interface Run { code: number; stdout: string; stderr: string }
function vlx(args: string[], env: Record<string, string> = {}, withHome = true): Promise<Run> {
  return new Promise((resolve) => {
    execFile(VLX, args, { env: { ...process.env, ...(withHome ? { VLX_HOME: home } : {}), ...env } }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

beforeAll(() => {
  // A private app home holding the lab's registration, so what these tests write stays here.
  home = mkdtempSync(join(tmpdir(), 'vlx-cli-nodes-'));
  copyFileSync(appPaths.clusters(), join(home, 'clusters.json'));
  copyFileSync(appPaths.knownHosts(), join(home, 'known_hosts'));
});
afterAll(() => rmSync(home, { recursive: true, force: true }));

describe('vlx nodes and vlx exec on the lab', () => {
  it('nodes --json: every lab node reachable, each with its own hostname', async () => {
    const r = await vlx(['nodes', '--json']);
    expect(r.code, r.stderr).toBe(0);
    // The contract's NodeInfo: what the GUI's node details show too.
    const infos = JSON.parse(r.stdout) as { name: string; state: string; hostname: string; kernel: string; declared: { cores: number }; tools: Record<string, boolean>; kvm: string }[];
    expect(infos.length).toBeGreaterThanOrEqual(4);
    expect(infos.every((n) => n.state === 'up')).toBe(true);
    expect(new Set(infos.map((n) => n.hostname)).size).toBe(infos.length);
    for (const n of infos) {
      expect(n.hostname).toBe(n.name);
      expect(n.kernel).toMatch(/\S/);
      expect(n.declared.cores).toBeGreaterThan(0);
      expect(['usable', 'unusable', 'absent', 'unverified']).toContain(n.kvm);
      expect(n.tools['qemu-img']).toBe(true);
    }
  });

  it('exec --all -- hostname: each node answers with its own name, prefixed', async () => {
    const r = await vlx(['exec', '--all', '--', 'hostname']);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines.length).toBeGreaterThanOrEqual(4);
    for (const l of lines) {
      const m = /^(\S+)\s*: (\S+)$/.exec(l);
      expect(m, l).not.toBeNull();
      expect(m![2]).toBe(m![1]);
    }
  });

  it('exec keeps each argument whole: echo "a b" prints a b', async () => {
    const r = await vlx(['exec', '--nodes', 'n2', '--json', '--', 'echo', 'a b']);
    expect(JSON.parse(r.stdout)).toMatchObject([{ node: 'n2', code: 0, stdout: 'a b\n' }]);
  });

  it('a command failing on one node is reported for that node, the others succeed, exit 1', async () => {
    const r = await vlx(['exec', '--all', '--json', '--', 'sh', '-c', 'test "$(hostname)" != n3']);
    expect(r.code).toBe(1);
    const rs = JSON.parse(r.stdout) as { node: string; code: number }[];
    for (const x of rs) expect(x.code).toBe(x.node === 'n3' ? 1 : 0);
    const human = await vlx(['exec', '--all', '--', 'sh', '-c', 'test "$(hostname)" != n3']);
    expect(human.code).toBe(1);
    expect(human.stderr).toMatch(/^n3\s*: exit 1$/m);
  });

  it.each([
    [['exec', '--nodes', 'n1;id', '--', 'true'], '--nodes'],
    [['exec', '--nodes', '$(reboot)', '--', 'true'], '--nodes'],
    [['exec', '--nodes', 'n1', '--all', '--', 'true'], '--nodes/--all'],
    [['exec', '--all', '--timeout', '0', '--', 'true'], '--timeout'],
  ])('bad input %j exits 2 naming %s', async (args, field) => {
    const r = await vlx(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`vlx: error: ${field}`);
  });

  it('exec --nodes of a node the cluster does not have: not found (3)', async () => {
    const r = await vlx(['exec', '--nodes', 'n99', '--', 'true']);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('has no node "n99"');
  });

  it('usage errors exit 2', async () => {
    expect((await vlx(['exec', '--bogus', '--', 'true'])).code).toBe(2);
    expect((await vlx(['cluster', 'add', 'x'])).code).toBe(2);
  });
});

describe('crash the node in use', () => {
  it('the next command goes through another node; after revive the node is back', async () => {
    const first = await vlx(['exec', '--json', '--', 'hostname']);
    expect(first.code, first.stderr).toBe(0);
    const used = (JSON.parse(first.stdout) as { node: string }[])[0].node;
    expect(JSON.parse(readFileSync(join(home, 'clusters.json'), 'utf8')).clusters.lab.lastNode).toBe(used);
    const crash = await vlx(['lab', 'crash', used], {}, false);
    expect(crash.code, crash.stderr).toBe(0);
    try {
      const next = await vlx(['exec', '--json', '--', 'hostname']);
      expect(next.code, next.stderr).toBe(0);
      const r = (JSON.parse(next.stdout) as { node: string; stdout: string }[])[0];
      expect(r.node).not.toBe(used);
      expect(r.stdout.trim()).toBe(r.node);

      const nodes = await vlx(['nodes', '--json']);
      expect(nodes.code, nodes.stderr).toBe(0);
      const infos = JSON.parse(nodes.stdout) as { name: string; state: string; errorCode?: string }[];
      expect(infos.find((n) => n.name === used)).toMatchObject({ state: 'down', errorCode: 'unreachable' });
      expect(infos.filter((n) => n.name !== used).every((n) => n.state === 'up')).toBe(true);

      const all = await vlx(['exec', '--all', '--', 'true']);
      expect(all.code).toBe(1);
      expect(all.stderr).toMatch(new RegExp(`^${used}\\s*: unreachable: `, 'm'));
    } finally {
      const revive = await vlx(['lab', 'revive', used], {}, false);
      expect(revive.code, revive.stderr).toBe(0);
    }
    const back = await vlx(['nodes', '--json']);
    expect(back.code).toBe(0);
    expect((JSON.parse(back.stdout) as { name: string; state: string }[]).find((n) => n.name === used)?.state).toBe('up');
  });
});

describe('vlx cluster add/list/use/remove', () => {
  let fresh: string;
  beforeAll(() => {
    fresh = mkdtempSync(join(tmpdir(), 'vlx-cluster-add-'));
  });
  afterAll(() => rmSync(fresh, { recursive: true, force: true }));
  const inFresh = (args: string[]) => vlx(args, { VLX_HOME: fresh });

  it('an unreachable address: clear error, exit 5, nothing saved', async () => {
    const r = await inFresh(['cluster', 'add', 'ghost', '--address', '10.77.0.99', '--key', labFiles().key]);
    expect(r.code).toBe(5);
    expect(r.stderr).toContain('node 10.77.0.99 (10.77.0.99:22)');
    expect(existsSync(join(fresh, 'clusters.json'))).toBe(false);
  });

  it('bad names and addresses are invalid input', async () => {
    for (const args of [['cluster', 'add', 'bad;name', '--address', '10.77.0.1'], ['cluster', 'add', 'ok', '--address', '10.77.0.1;id'], ['cluster', 'add', 'ok', '--address', '10.77.0.1', '--port', '70000']]) {
      const r = await inFresh(args);
      expect(r.code, args.join(' ')).toBe(2);
    }
    expect(existsSync(join(fresh, 'clusters.json'))).toBe(false);
  });

  it('an unknown host key is refused with its fingerprint; accepted with --accept-new-host-key, learning all nodes from the manifest', async () => {
    const refused = await inFresh(['cluster', 'add', 'lab2', '--address', '10.77.0.2', '--key', labFiles().key]);
    expect(refused.code).toBe(6);
    expect(refused.stderr).toMatch(/node 10\.77\.0\.2 \(10\.77\.0\.2:22\) is not known yet: it presents the \S+ host key SHA256:/);
    expect(refused.stderr).toContain('--accept-new-host-key');
    expect(existsSync(join(fresh, 'clusters.json'))).toBe(false);

    const ok = await inFresh(['--accept-new-host-key', 'cluster', 'add', 'lab2', '--address', '10.77.0.2', '--key', labFiles().key, '--json']);
    expect(ok.code, ok.stderr).toBe(0);
    const out = JSON.parse(ok.stdout);
    expect(out.fromManifest).toBe(true);
    expect(out.nodes.length).toBeGreaterThanOrEqual(4);
    expect(out.checked.length).toBe(out.nodes.length);
    expect(out.checked.every((n: { ok: boolean }) => n.ok)).toBe(true);

    const list = JSON.parse((await inFresh(['cluster', 'list', '--json'])).stdout);
    expect(list).toMatchObject([{ name: 'lab2', current: true }]);
    const exec = await inFresh(['exec', '--all', '--', 'hostname']);
    expect(exec.code, exec.stderr).toBe(0);

    expect((await inFresh(['cluster', 'use', 'nope'])).code).toBe(3);
    expect((await inFresh(['cluster', 'remove', 'lab2'])).code).toBe(0);
    expect(JSON.parse((await inFresh(['cluster', 'list', '--json'])).stdout)).toEqual([]);
  });
});
