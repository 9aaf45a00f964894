import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { VlxError } from '../errors.js';
import type { LabNodeLayout, NodePaths } from './layout.js';
import { runLocal, sleep } from './local.js';
import { readPidFile } from './pidFile.js';

/** Every process whose network namespace is the node's: that is the node. */
export async function nodePids(netns: string): Promise<number[]> {
  const r = await runLocal('ip', ['netns', 'pids', netns]);
  if (r.code !== 0) return [];
  return r.stdout.split(/\s+/).filter(Boolean).map(Number).filter((p) => Number.isInteger(p) && p > 0);
}

/**
 * A power cut: SIGKILL to everything in the namespace, again until nothing is left (a
 * process may fork while we kill), then wait until the kernel has really let them go.
 */
export async function killNode(netns: string): Promise<void> {
  for (let round = 0; round < 50; round++) {
    const pids = await nodePids(netns);
    if (pids.length === 0) return;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await sleep(round < 5 ? 5 : 50);
  }
  throw new VlxError('internal', `processes in ${netns} survive SIGKILL: ${(await nodePids(netns)).join(' ')}`);
}

/** The node's sshd, if its pid file names a live sshd started with this node's config. */
export function sshdPid(p: NodePaths): number | undefined {
  const pid = readPidFile(p.pidFile);
  if (!pid) return undefined;
  try {
    // sshd rewrites its argv into a title ("sshd: /usr/sbin/sshd -D -e -f CFG [listener] …").
    const cmd = ' ' + readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ') + ' ';
    return cmd.includes(` ${p.sshdConfig} `) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Last lines of the node's log, for an error a person can act on. */
export function logTail(file: string, bytes = 800): string {
  if (!existsSync(file)) return '';
  const size = statSync(file).size;
  const fd = openSync(file, 'r');
  try {
    const len = Math.min(size, bytes);
    const buf = Buffer.alloc(len);
    readSync(fd, buf, 0, len, size - len);
    return buf.toString('utf8').trim();
  } finally {
    closeSync(fd);
  }
}

/**
 * Start the node: its first process enters the network namespace, unshares UTS and mount
 * namespaces (ip netns exec alone gives no hostname of its own), runs the start script and
 * becomes sshd. Detached into its own session with output to the node log, so it outlives
 * the CLI that started it.
 */
export function startNode(n: LabNodeLayout, p: NodePaths): number {
  const log = openSync(p.log, 'a', 0o600);
  try {
    const child = spawn(
      'ip',
      ['netns', 'exec', n.netns, 'unshare', '--uts', '--mount', '--propagation', 'private', '/bin/sh', p.startScript],
      { detached: true, stdio: ['ignore', log, log] },
    );
    child.on('error', () => {
      // reported through waitForSshd, which reads the log
    });
    child.unref();
    return child.pid ?? 0;
  } finally {
    closeSync(log);
  }
}

/** Resolves once the node's sshd sends its banner; rejects with the node log if it does not. */
export async function waitForSshd(n: LabNodeLayout, p: NodePaths, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await sshBanner(n.address, 500)) return;
    if (Date.now() > deadline) {
      throw new VlxError('timeout', `sshd of lab node ${n.name} (${n.address}) did not answer`, `node log ${p.log}:\n${logTail(p.log)}`);
    }
    await sleep(20);
  }
}

export function sshBanner(host: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host, port: 22 });
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('error', () => done(false));
    sock.once('data', (d) => done(d.toString('latin1').startsWith('SSH-')));
  });
}
