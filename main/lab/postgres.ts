import { readFileSync, readlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import { runLocal, sleep } from './local.js';

/**
 * A clean shutdown of a lab node stops its PostgreSQL the way a real node's init does
 * (`pg_ctl stop -m fast`, waiting), before `lab down` cuts everything else: the database
 * then starts next time without crash recovery and without a pid file left behind.
 */

export interface Postmaster {
  pid: number;
  /** The postgres binary, as this (host) process sees it; pg_ctl sits next to it. */
  exe: string;
  /** The data directory as the node sees it (the postmaster's `-D`). */
  dataDir: string;
  uid: number;
  gid: number;
}

function exeOf(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/exe`).replace(/ \(deleted\)$/, '');
  } catch {
    return undefined;
  }
}

function parentOf(pid: number): number | undefined {
  try {
    // the command name (field 2) may hold spaces and parentheses: read after the last ')'
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

function idsOf(pid: number): { uid: number; gid: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const uid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
    const gid = Number(/^Gid:\s+(\d+)/m.exec(status)?.[1]);
    return Number.isInteger(uid) && Number.isInteger(gid) ? { uid, gid } : undefined;
  } catch {
    return undefined;
  }
}

function dataDirOf(pid: number): string | undefined {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    const i = argv.indexOf('-D');
    return i >= 0 && argv[i + 1] ? argv[i + 1] : undefined;
  } catch {
    return undefined;
  }
}

const isPostgres = (exe: string | undefined): exe is string => exe !== undefined && exe.endsWith('/postgres');

/** The postmasters among these pids: a postgres process whose parent is not one. */
export function findPostmasters(pids: number[]): Postmaster[] {
  const found: Postmaster[] = [];
  for (const pid of pids) {
    const exe = exeOf(pid);
    if (!isPostgres(exe)) continue;
    const parent = parentOf(pid);
    if (parent !== undefined && isPostgres(exeOf(parent))) continue;
    const dataDir = dataDirOf(pid);
    const ids = idsOf(pid);
    if (dataDir && ids) found.push({ pid, exe, dataDir, ...ids });
  }
  return found;
}

/** Running (a zombie waiting for a reaper counts as gone). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/**
 * `pg_ctl stop -m fast -w` inside the node's mount namespace, as the postmaster's own user.
 * Should pg_ctl fail, SIGINT (what fast mode sends) and a wait; the caller kills what is left.
 */
export async function stopPostmaster(pm: Postmaster, timeoutS = 20): Promise<{ clean: boolean; ms: number; detail?: string }> {
  const started = Date.now();
  const r = await runLocal('nsenter', ['-t', String(pm.pid), '-m', '-S', String(pm.uid), '-G', String(pm.gid), '--',
    `${dirname(pm.exe)}/pg_ctl`, '-D', pm.dataDir, 'stop', '-m', 'fast', '-w', '-t', String(timeoutS)]);
  if (r.code === 0 && !alive(pm.pid)) return { clean: true, ms: Date.now() - started };
  try {
    process.kill(pm.pid, 'SIGINT');
  } catch {
    // gone
  }
  const deadline = Date.now() + timeoutS * 1000;
  while (alive(pm.pid) && Date.now() < deadline) await sleep(50);
  return { clean: !alive(pm.pid), ms: Date.now() - started, detail: (r.stderr || r.stdout).trim() };
}

/**
 * Patroni restarts a PostgreSQL that stops under it, so a shutdown asks Patroni first: on
 * SIGTERM it stops its PostgreSQL (fast) and exits. Returns the pids that stopped in time.
 */
export async function stopPatronis(pids: number[], timeoutS = 30): Promise<number[]> {
  const ours = pids.filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').some((a) => a.endsWith('/patroni'));
    } catch {
      return false;
    }
  });
  for (const pid of ours) {
    try {
      process.kill(pid, 'SIGTERM');
    } catch {
      // gone
    }
  }
  const deadline = Date.now() + timeoutS * 1000;
  while (ours.some(alive) && Date.now() < deadline) await sleep(50);
  return ours.filter((p) => !alive(p));
}
