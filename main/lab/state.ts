import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { z } from 'zod';
import { VlxError } from '../errors.js';
import { sleep } from './local.js';

/** What `up` made and `down` must undo; lives in the lab dir as lab.json. */
export const LabState = z.object({
  version: z.literal(1),
  nodes: z.number().int().min(1),
  cores: z.number().int(),
  memMb: z.number().int(),
  /** Host directories `up` had to create as mountpoints; `down` removes only these. */
  createdMountpoints: z.array(z.string()).default([]),
  upAt: z.string(),
});
export type LabState = z.infer<typeof LabState>;

export function readLabState(file: string): LabState | undefined {
  if (!existsSync(file)) return undefined;
  const parsed = LabState.safeParse(JSON.parse(readFileSync(file, 'utf8')));
  return parsed.success ? parsed.data : undefined;
}

export function writeLabState(file: string, s: LabState): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(s, null, 2) + '\n', { mode: 0o600 });
  renameSync(tmp, file);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The environment variable through which a lock holder lets its own child processes in. */
export const LOCK_ENV = 'VLX_LAB_LOCK';

function readLock(lockFile: string): { pid: number; token: string } | undefined {
  try {
    const [pid, token] = readFileSync(lockFile, 'utf8').trim().split(/\s+/);
    return { pid: Number(pid), token: token ?? '' };
  } catch {
    return undefined;
  }
}

/**
 * Take the lab lock and keep it until release() is called. Lab operations of this process
 * and of child processes that get `VLX_LAB_LOCK=<token>` in their environment go through;
 * everyone else waits. Tests use it to keep other test runs from changing the lab under them.
 */
export async function holdLabLock(lockFile: string, waitMs = 240_000): Promise<{ token: string; release: () => void }> {
  mkdirSync(dirname(lockFile), { recursive: true, mode: 0o700 });
  const token = randomBytes(12).toString('hex');
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      const fd = openSync(lockFile, 'wx', 0o600);
      writeSync(fd, `${process.pid} ${token}`);
      closeSync(fd);
      return {
        token,
        release: () => {
          if (readLock(lockFile)?.token === token) rmSync(lockFile, { force: true });
        },
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const holder = readLock(lockFile);
      if (!holder) continue; // released between our open and read
      if (!Number.isInteger(holder.pid) || holder.pid <= 0 || !pidAlive(holder.pid)) {
        rmSync(lockFile, { force: true });
        continue;
      }
      if (Date.now() > deadline) {
        throw new VlxError('conflict', `another lab operation (pid ${holder.pid}) is still running`, `wait for it, or remove ${lockFile} if that process is gone`);
      }
      await sleep(100);
    }
  }
}

/**
 * One lab operation at a time on this machine: several test runs may call `ensureLab()`
 * together. A lock left by a dead process is taken over.
 */
export async function withLabLock<T>(lockFile: string, fn: () => Promise<T>): Promise<T> {
  const delegated = process.env[LOCK_ENV];
  if (delegated && readLock(lockFile)?.token === delegated) return fn();
  const lock = await holdLabLock(lockFile);
  try {
    return await fn();
  } finally {
    lock.release();
  }
}
