import { spawn } from 'node:child_process';
import { VlxError } from '../errors.js';
import type { ExecOptions, ExecResult, NodeConn } from '../ssh/types.js';

/** The part of a node connection that image building, publishing and probing need. */
export type CommandRunner = Pick<NodeConn, 'name' | 'exec' | 'run'>;

/**
 * The workstation itself as a command runner: images are built here (lab nodes have no
 * route to the Debian mirror), and the KVM probe can run here too. Commands go through
 * /bin/sh exactly as they would on a node over SSH, so the same quoted strings work.
 */
export function localRunner(): CommandRunner {
  const exec = (command: string, opts: ExecOptions = {}): Promise<ExecResult> =>
    new Promise((resolve, reject) => {
      const child = spawn('/bin/sh', ['-c', command], { stdio: ['pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      let timedOut = false;
      const timer = opts.timeoutMs
        ? setTimeout(() => {
            timedOut = true;
            child.kill('SIGKILL');
          }, opts.timeoutMs)
        : undefined;
      const onAbort = (): void => void child.kill('SIGKILL');
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      child.stdout.setEncoding('utf8').on('data', (c: string) => {
        stdout += c;
        opts.onStdout?.(c);
      });
      child.stderr.setEncoding('utf8').on('data', (c: string) => {
        stderr += c;
        opts.onStderr?.(c);
      });
      child.on('error', (e) => reject(new VlxError('internal', `local: ${e.message}`)));
      child.on('close', (code, signal) => {
        if (timer) clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
        if (timedOut) return reject(new VlxError('timeout', `local: ${command.slice(0, 200)}: no end within ${opts.timeoutMs} ms`));
        if (opts.signal?.aborted) return reject(new VlxError('cancelled', `local: ${command.slice(0, 200)}: cancelled`));
        resolve({ code: code ?? -1, ...(signal ? { signal } : {}), stdout, stderr });
      });
      // A command that does not read stdin closes it early: that is not an error of ours.
      child.stdin.on('error', () => undefined);
      child.stdin.end(opts.stdin ?? '');
    });
  return {
    name: 'local',
    exec,
    async run(command, opts) {
      const r = await exec(command, opts);
      if (r.code !== 0) {
        throw new VlxError('remote-failed', `local: \`${command.slice(0, 300)}\` exited ${r.code}: ${r.stderr.trim().slice(-800)}`, undefined, { ...r });
      }
      return r.stdout;
    },
  };
}
