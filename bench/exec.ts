// `true` on N lab nodes five ways, medians of several runs, ratios against parallel-ssh:
//   (a) in-process, warm pooled ssh2 connections (session.onNodes)
//   (b) `vlx exec` from a cold CLI process
//   (b') `vlx exec` from a cold CLI process that attaches to a running `vlx agent`
//   (c) parallel-ssh (Debian pssh) with the lab key and known_hosts
//   (d) ansible all -m command -a true
// Default 16 nodes: the lab is re-made with 16 and put back to 4 afterwards. `--nodes 4`
// uses the running lab as it is (a dry run that does not disturb other users of it).
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { getCluster } from '../main/config/clusters.js';
import { labDir } from '../main/config/paths.js';
import { checkLabDir, labPaths } from '../main/lab/layout.js';
import { openCluster } from '../main/ssh/session.js';
import { checkInt } from '../main/util/names.js';

const VLX = resolve('bin/vlx');

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

function run(cmd: string, args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string; ms: number }> {
  const t0 = performance.now();
  return new Promise((resolvePromise) => {
    execFile(cmd, args, { env: { ...process.env, ...env }, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolvePromise({ code, stdout, stderr, ms: performance.now() - t0 });
    });
  });
}

async function must(cmd: string, args: string[]): Promise<void> {
  process.stderr.write(`$ ${[cmd, ...args].join(' ')}\n`);
  const r = await run(cmd, args);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function measure(label: string, runs: number, once: () => Promise<number>): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    times.push(await once());
    process.stderr.write(`  ${label}: run ${i + 1}/${runs} ${(times[i] / 1000).toFixed(3)} s\n`);
  }
  return times;
}

async function main(): Promise<void> {
  const n = checkInt(arg('--nodes') ?? '16', '--nodes', 1, 32);
  const runs = checkInt(arg('--runs') ?? '7', '--runs', 1, 100);
  const slowRuns = checkInt(arg('--slow-runs') ?? '5', '--slow-runs', 1, 100);
  const resize = n === 16 && !process.argv.includes('--no-resize');

  const status = await run(VLX, ['lab', 'status', '--json']);
  const current = status.code === 0 ? (JSON.parse(status.stdout) as { nodes?: unknown[] }).nodes?.length ?? 0 : 0;
  let resized = false;
  if (resize && current !== n) {
    await must(VLX, ['lab', 'down']);
    await must(VLX, ['lab', 'up', '--nodes', String(n)]);
    resized = true;
  }
  const work = mkdtempSync(join(tmpdir(), 'vlx-bench-'));
  try {
    const lab = getCluster('lab');
    if (lab.nodes.length < n) throw new Error(`the lab has ${lab.nodes.length} nodes, the benchmark needs ${n}: run without --nodes to re-make it`);
    const nodes = lab.nodes.slice(0, n);
    const lp = labPaths(checkLabDir(labDir()));
    const sshOpts = ['-o', `UserKnownHostsFile=${lp.knownHosts}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'GlobalKnownHostsFile=/dev/null', '-o', 'BatchMode=yes'];
    process.stderr.write(`benchmark: \`true\` on ${n} lab nodes\n`);

    // (a) in-process, warm: connections opened once, then only channels per round.
    const session = openCluster({ ...lab, nodes });
    const warmup = await session.onNodes('all', 'true');
    const bad = warmup.filter((r) => r.code !== 0);
    if (bad.length) throw new Error(`warm-up failed on ${bad.map((r) => `${r.node}: ${r.error?.message ?? r.code}`).join(', ')}`);
    await session.onNodes('all', 'true');
    const inproc = await measure('in-process warm', runs, async () => {
      const t0 = performance.now();
      const rs = await session.onNodes('all', 'true');
      const ms = performance.now() - t0;
      if (rs.some((r) => r.code !== 0)) throw new Error('in-process round failed');
      return ms;
    });
    await session.close();

    // (b) a cold CLI process per round, as a script would call it.
    const target = n === lab.nodes.length ? ['--all'] : ['--nodes', nodes.map((x) => x.name).join(',')];
    const cli = await measure('vlx exec (cold)', runs, async () => {
      const r = await run(VLX, ['--cluster', 'lab', 'exec', ...target, '--', 'true']);
      if (r.code !== 0) throw new Error(`vlx exec failed: ${r.stderr}`);
      return r.ms;
    });

    // (b') the same cold CLI process, attached to a running agent (its connections are warm).
    // It uses the current cluster (no --cluster: a run that picks a cluster serves itself).
    await must(VLX, ['cluster', 'use', 'lab']);
    const agentProc = spawn(VLX, ['agent', '--quiet'], { stdio: 'ignore' });
    let attached: number[];
    try {
      for (let i = 0; i < 50 && (await run(VLX, ['agent', 'status'])).code !== 0; i++) await new Promise((r) => setTimeout(r, 100));
      const warm = await run(VLX, ['exec', ...target, '--', 'true']);
      if (warm.code !== 0) throw new Error(`vlx exec through the agent failed: ${warm.stderr}`);
      attached = await measure('vlx exec (cold, agent running)', runs, async () => {
        const r = await run(VLX, ['exec', ...target, '--', 'true']);
        if (r.code !== 0) throw new Error(`vlx exec through the agent failed: ${r.stderr}`);
        return r.ms;
      });
    } finally {
      agentProc.kill('SIGTERM');
      await new Promise((r) => agentProc.once('exit', r));
    }

    // (c) parallel-ssh with the same key and host keys checked.
    const hosts = join(work, 'hosts');
    writeFileSync(hosts, nodes.map((x) => x.address).join('\n') + '\n');
    const pssh = await measure('parallel-ssh', slowRuns, async () => {
      const r = await run('parallel-ssh', ['-h', hosts, '-l', 'root', '-p', String(n), '-t', '60', '-x', ['-i', lp.key, ...sshOpts].join(' '), 'true']);
      if (r.code !== 0) throw new Error(`parallel-ssh failed: ${r.stdout}${r.stderr}`);
      return r.ms;
    });

    // (d) ansible ad-hoc, default settings apart from the key and known_hosts.
    const inv = join(work, 'inventory.ini');
    writeFileSync(inv, [
      '[lab]', ...nodes.map((x) => x.address), '',
      '[all:vars]', 'ansible_user=root', `ansible_ssh_private_key_file=${lp.key}`,
      `ansible_ssh_common_args='${sshOpts.join(' ')}'`, 'ansible_python_interpreter=/usr/bin/python3', '',
    ].join('\n'));
    const ansibleEnv = { ANSIBLE_SSH_CONTROL_PATH_DIR: join(work, 'cp'), ANSIBLE_LOCAL_TEMP: join(work, 'tmp'), ANSIBLE_NOCOLOR: '1' };
    const ansible = await measure('ansible', slowRuns, async () => {
      const r = await run('ansible', ['all', '-i', inv, '-m', 'command', '-a', 'true', '-f', String(n)], ansibleEnv);
      if (r.code !== 0) throw new Error(`ansible failed: ${r.stdout}${r.stderr}`);
      return r.ms;
    });

    const base = median(pssh);
    const rows: [string, number[], string][] = [
      ['in-process, warm pooled ssh2', inproc, '>= 30x'],
      ['vlx exec --all (cold process)', cli, '>= 2.5x'],
      ['vlx exec --all (cold, agent)', attached, '>= 10x'],
      ['parallel-ssh', pssh, ''],
      ['ansible -m command', ansible, ''],
    ];
    const out = [
      `\n\`true\` on ${n} nodes, medians (runs: ${runs} fast, ${slowRuns} slow)`,
      `${'method'.padEnd(32)} ${'median s'.padStart(9)} ${'vs pssh'.padStart(9)}  target`,
      ...rows.map(([name, xs, tgt]) => {
        const m = median(xs);
        const ratio = base / m;
        const ok = tgt ? (ratio >= Number(tgt.replace(/[^0-9.]/g, '')) ? ' met' : ' MISSED') : '';
        return `${name.padEnd(32)} ${(m / 1000).toFixed(3).padStart(9)} ${`${ratio.toFixed(1)}x`.padStart(9)}  ${tgt}${ok}`;
      }),
    ];
    process.stdout.write(out.join('\n') + '\n');
  } finally {
    rmSync(work, { recursive: true, force: true });
    if (resized) {
      await must(VLX, ['lab', 'down']);
      await must(VLX, ['lab', 'up', '--nodes', '4']);
    }
  }
}

main().catch((e) => {
  process.stderr.write(`bench exec: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
