import { spawn, execFile, execFileSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, writeFileSync, rmSync, mkdirSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A free TCP port on 127.0.0.1 (bound and released; the caller binds it right after). */
export function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.once('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => ok(port));
    });
  });
}

/**
 * A real sshd on 127.0.0.1 with a host key of its own, so the Connect screen's first-contact
 * flow can be driven against a real server. It only has to present its key: nothing logs in.
 */
export async function startSshd(dir: string): Promise<{ port: number; fingerprint: string; clientKey: string; stop(): void }> {
  const key = join(dir, 'ssh_host_ed25519_key');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', key]);
  // A key of the app's own that this sshd lets in as root, so the app can log in, learn the
  // node's name and open a shell on it.
  const clientKey = join(dir, 'client_ed25519');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', clientKey]);
  copyFileSync(`${clientKey}.pub`, join(dir, 'authorized_keys'));
  const fingerprint = execFileSync('ssh-keygen', ['-lf', `${key}.pub`], { encoding: 'utf8' }).split(/\s+/)[1]!;
  const port = await freePort();
  const config = join(dir, 'sshd_config');
  writeFileSync(config, [
    `Port ${port}`, 'ListenAddress 127.0.0.1', `HostKey ${key}`, `PidFile ${join(dir, 'sshd.pid')}`,
    'UsePAM no', 'PasswordAuthentication no', 'KbdInteractiveAuthentication no', 'StrictModes no',
    'PubkeyAuthentication yes', 'PermitRootLogin prohibit-password', `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`, '',
  ].join('\n'));
  mkdirSync('/run/sshd', { recursive: true });
  const child: ChildProcess = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d) => { stderr += String(d); });
  // sshd says nothing when ready in -D mode; wait until it sends its banner, for 10 s at most.
  const deadline = Date.now() + 10_000;
  for (;;) {
    const ok = await new Promise<boolean>((res) => {
      const s = connect(port, '127.0.0.1');
      s.setTimeout(1_000, () => { s.destroy(); res(false); });
      s.once('data', () => { s.destroy(); res(true); });
      s.once('error', () => res(false));
    });
    if (ok) break;
    if (child.exitCode !== null) throw new Error(`sshd exited (${child.exitCode}) before it accepted a connection: ${stderr}`);
    if (Date.now() > deadline) {
      child.kill('SIGTERM');
      throw new Error(`sshd on 127.0.0.1:${port} sent no banner within 10 s: ${stderr || 'it printed nothing'}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return { port, fingerprint, clientKey, stop: () => { child.kill('SIGTERM'); } };
}

export function tempHome(): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'vlx-e2e-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/**
 * `vlx gui --no-open` as a person would start it, with the app's home in `home`. Each read of
 * `url` is a fresh one-time sign-in link, got the way a person gets one: Enter on the
 * command's stdin writes a new launch page (owner-only, under HOME/gui), and the link is
 * what that page would send a browser to. A link works once, within 60 s.
 */
export async function startGui(home: string): Promise<{ readonly url: string; readonly pid: number; stop(): Promise<void> }> {
  const env: Record<string, string | undefined> = { ...process.env, VLX_HOME: home };
  delete env.VLX_CLUSTER; // the cluster in use is the one the test adds
  const child = spawn(process.execPath, ['dist/vlx.mjs', 'gui', '--no-open'], {
    env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr?.on('data', (d) => { err += String(d); });
  await new Promise<void>((ok, fail) => {
    const timer = setTimeout(() => fail(new Error(`vlx gui printed no sign-in page within 30 s: ${out}${err}`)), 30_000);
    child.stdout?.on('data', (d) => {
      out += String(d);
      if (/sign-in page .*: file:\/\/\S+\.html/.test(out)) { clearTimeout(timer); ok(); }
    });
    child.once('exit', (code) => { clearTimeout(timer); fail(new Error(`vlx gui exited (${code}): ${err}`)); });
  });
  const pages = join(home, 'gui');
  const seen = new Set<string>(readdirSync(pages));
  return {
    pid: child.pid!, // the bridge process itself (node runs dist/vlx.mjs directly, no wrapper)
    get url() {
      // A getter, so specs can keep writing page.goto(bridge.url); it waits synchronously
      // (the page is written by the other process) for at most 10 s.
      child.stdin!.write('\n');
      const until = Date.now() + 10_000;
      for (;;) {
        for (const name of readdirSync(pages)) {
          if (seen.has(name) || !name.endsWith('.html')) continue;
          let text = '';
          try { text = readFileSync(join(pages, name), 'utf8'); } catch { continue; } // an expired page, deleted meanwhile
          const m = /http:\/\/127\.0\.0\.1:\d+\/auth\?code=[A-Za-z0-9_-]+/.exec(text);
          if (m) { seen.add(name); return m[0]; }
        }
        if (Date.now() > until) throw new Error(`vlx gui wrote no new sign-in page in ${pages} within 10 s: ${err}`);
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 20);
      }
    },
    stop: () => new Promise<void>((done) => {
      if (child.exitCode !== null) return done();
      child.once('exit', () => done());
      child.kill('SIGTERM');
    }),
  };
}

/**
 * One command on a lab node through OpenSSH with the lab's key and known-hosts file (host
 * keys stay checked): what the e2e test uses to see for itself what the app claims. The
 * integration suite's helper of the same name pulls in the DB migrations, which
 * Playwright's loader cannot import.
 */
export async function labSsh(address: string, command: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const { labPaths, checkLabDir } = await import('../../main/lab/layout.js');
  const { labDir } = await import('../../main/config/paths.js');
  const p = labPaths(checkLabDir(labDir()));
  const args = [
    '-i', p.key, '-o', `UserKnownHostsFile=${p.knownHosts}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes',
    '-o', 'GlobalKnownHostsFile=/dev/null', '-o', 'ConnectTimeout=5', '-o', 'LogLevel=ERROR', `root@${address}`, command,
  ];
  return new Promise((resolve) => {
    execFile('ssh', args, { timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 255) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}
