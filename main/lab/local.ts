import { spawn } from 'node:child_process';
import { VlxError } from '../errors.js';

export interface LocalResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run a local program from an argv array (never through a shell); a non-zero exit is data. */
export function runLocal(cmd: string, args: string[], input?: string, env?: Record<string, string>): Promise<LocalResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], env: env ? { ...process.env, ...env } : process.env });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', (e) => reject(new VlxError('missing-tool', `cannot run ${cmd}: ${e.message}`)));
    child.on('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr }));
    if (input !== undefined) child.stdin!.end(input);
  });
}

/** runLocal, but a failure is an error naming the command and what it printed. */
export async function mustRun(cmd: string, args: string[], input?: string): Promise<string> {
  const r = await runLocal(cmd, args, input);
  if (r.code !== 0) {
    throw new VlxError('internal', `${[cmd, ...args].join(' ')} failed (exit ${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
  }
  return r.stdout;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
