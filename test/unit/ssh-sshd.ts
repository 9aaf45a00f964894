// A real OpenSSH server on 127.0.0.1 for the SSH tests: its own host key, config and pid.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestSshd {
  dir: string;
  port: number;
  clientKey: string;
  hostKeyPub(): { keyType: string; keyBase64: string };
  regenerateHostKey(): void;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Per-connection sshd processes (children of the listener), to kill or freeze by id. */
  sessionPids(): number[];
  cleanup(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      srv.close(() => (a && typeof a === 'object' ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

export async function makeSshd(): Promise<TestSshd> {
  const dir = mkdtempSync(join(tmpdir(), 'vlx-sshd-'));
  const port = await freePort();
  const hostKey = join(dir, 'ssh_host_ed25519_key');
  const clientKey = join(dir, 'id_ed25519');
  const home = join(dir, 'home');
  mkdirSync(home);
  // A minimal shell init: root's own ~/.bashrc on these machines is slow (LAB-NOTES).
  writeFileSync(join(home, '.bashrc'), '');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', clientKey]);
  const genHost = () => {
    rmSync(hostKey, { force: true });
    rmSync(`${hostKey}.pub`, { force: true });
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', hostKey]);
  };
  genHost();
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(`${clientKey}.pub`));
  mkdirSync('/run/sshd', { recursive: true });
  writeFileSync(join(dir, 'sshd_config'), [
    `Port ${port}`,
    'ListenAddress 127.0.0.1',
    `HostKey ${hostKey}`,
    `PidFile ${join(dir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
    'PermitRootLogin prohibit-password',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    'StrictModes no',
    'AllowStreamLocalForwarding yes',
    'AllowTcpForwarding yes',
    `SetEnv HOME=${home}`,
    'Subsystem sftp internal-sftp',
    '',
  ].join('\n'));

  let proc: ChildProcess | undefined;
  const sshd: TestSshd = {
    dir,
    port,
    clientKey,
    hostKeyPub() {
      const [keyType, keyBase64] = readFileSync(`${hostKey}.pub`, 'utf8').trim().split(/\s+/);
      return { keyType, keyBase64 };
    },
    regenerateHostKey: genHost,
    async start() {
      const p = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', join(dir, 'sshd_config')], { stdio: ['ignore', 'ignore', 'pipe'] });
      proc = p;
      let log = '';
      // sshd prints "Server listening on 127.0.0.1 port N." with -e once it accepts connections.
      await new Promise<void>((resolve, reject) => {
        p.stderr!.on('data', (b: Buffer) => {
          log += b.toString();
          if (log.includes('Server listening')) resolve();
        });
        p.once('exit', (code) => reject(new Error(`sshd exited with ${code}: ${log}`)));
      });
    },
    async stop() {
      const p = proc;
      proc = undefined;
      if (!p || p.exitCode !== null) return;
      for (const pid of sshd.sessionPids()) {
        try { process.kill(pid, 'SIGKILL'); } catch { /* gone already */ }
      }
      await new Promise<void>((resolve) => {
        p.once('exit', () => resolve());
        p.kill('SIGTERM');
      });
    },
    sessionPids() {
      if (!proc?.pid) return [];
      const children = (pid: number): number[] => {
        const f = `/proc/${pid}/task/${pid}/children`;
        if (!existsSync(f)) return [];
        const direct = readFileSync(f, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
        return direct.flatMap((c) => [c, ...children(c)]);
      };
      return children(proc.pid);
    },
    async cleanup() {
      await sshd.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return sshd;
}
