import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { labPaths, checkLabDir, LAB_DEFAULTS } from '../../../main/lab/layout.js';
import { afterAll, beforeAll } from 'vitest';
import { holdLabLock, labStatus, type LabStatus } from '../../../main/lab/index.js';
import { LOCK_ENV } from '../../../main/lab/state.js';
import { startLab } from '../../../main/service/labStart.js';
import { labDir } from '../../../main/config/paths.js';

/**
 * The shared lab for integration tests: brought up with 4 nodes unless a lab of at least
 * that many is already running (the benchmark may have made a bigger one), which is then
 * only checked, healed and registered for this run's app home.
 */
export async function ensureLab(opts: { minNodes?: number } = {}): Promise<LabStatus> {
  const min = opts.minNodes ?? LAB_DEFAULTS.nodes;
  const s = await labStatus();
  const keep = s.state !== 'down' && s.nodes.length >= min;
  // Through the same service as `vlx lab up`: nodes, then the cluster database.
  return startLab({
    nodes: keep ? s.nodes.length : Math.max(min, LAB_DEFAULTS.nodes),
    cores: keep ? s.cores : undefined,
    memMb: keep ? s.memMb : undefined,
  });
}

/** Key and known-hosts files of the lab, for the system ssh client (host keys stay checked). */
export function labFiles(): { key: string; knownHosts: string } {
  const p = labPaths(checkLabDir(labDir()));
  return { key: p.key, knownHosts: p.knownHosts };
}

export interface SshResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** One command on a lab node through OpenSSH, strict host-key checking against the lab's keys. */
export async function labSsh(address: string, command: string, connectTimeoutS = 5): Promise<SshResult> {
  const { key, knownHosts } = labFiles();
  const args = [
    '-i', key, '-o', `UserKnownHostsFile=${knownHosts}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes',
    '-o', 'GlobalKnownHostsFile=/dev/null', '-o', `ConnectTimeout=${connectTimeoutS}`, '-o', 'LogLevel=ERROR',
    `root@${address}`, command,
  ];
  try {
    const { stdout, stderr } = await promisify(execFile)('ssh', args);
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof err.code === 'number' ? err.code : 255, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

/**
 * For a file that takes the lab down, crashes its database or otherwise owns it: the lab's
 * lock for the whole file (other workstations' lab operations wait; our own CLI children get
 * the token through the environment), and whatever happened, later files find a 4-node lab.
 * `after` runs first in the file's afterAll (its own clean-up).
 */
export function holdLabForThisFile(after?: () => Promise<void>): void {
  let release = () => {};
  beforeAll(async () => {
    const lock = await holdLabLock();
    release = lock.release;
    process.env[LOCK_ENV] = lock.token;
  });
  afterAll(async () => {
    try {
      await after?.();
      await ensureLab();
    } finally {
      delete process.env[LOCK_ENV];
      release();
    }
  });
}
