// The deploy's node-side scripts, run for real with /bin/sh against scratch directories and
// real processes (a copy of dash named postgres stands in for a postmaster).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parsePidFileCheck, parseServerCert, pidFileCheckScript, serverCertScript } from '../../main/db/nodeScripts.js';
import { findPostmasters } from '../../main/lab/postgres.js';

let dir: string;
let data: string;
let other: string;
let sockets: string;
const children: ChildProcess[] = [];

/** A process whose binary is called postgres, sitting in `cwd` (as a postmaster sits in its data dir). */
function fakePostgres(cwd: string): ChildProcess {
  const bin = join(dir, 'bin', 'postgres');
  if (!existsSync(bin)) {
    mkdirSync(join(dir, 'bin'), { recursive: true });
    copyFileSync('/bin/dash', bin);
    spawnSync('chmod', ['0755', bin]);
  }
  // `sh -c CMD -D DIR`: the command line reads like a postmaster's; the shell stays (sleep is not its last word)
  const child = spawn(bin, ['-c', 'sleep 300; :', '-D', cwd], { cwd, stdio: 'ignore' });
  children.push(child);
  return child;
}

function check(): ReturnType<typeof parsePidFileCheck> & { raw: string } {
  const r = spawnSync('/bin/sh', ['-c', pidFileCheckScript(data, sockets)], { encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  return { ...parsePidFileCheck(r.stdout), raw: r.stdout };
}

const pidFile = () => join(data, 'postmaster.pid');
const writePid = (pid: number | string) => writeFileSync(pidFile(), `${pid}\n${data}\n1700000000\n5432\n`);

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'vlx-pidcheck-'));
  data = join(dir, 'pg', 'data');
  other = join(dir, 'other', 'data');
  mkdirSync(data, { recursive: true });
  mkdirSync(other, { recursive: true });
  sockets = join(dir, 'run pg');
  mkdirSync(sockets);
});
afterAll(() => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

describe('pidFileCheckScript: is postmaster.pid a live postmaster of THIS data dir?', () => {
  it('no pid file: stopped', () => {
    expect(check().state).toBe('stopped');
  });

  it('a live postgres sitting in this data dir: running, pid file kept', async () => {
    const pm = fakePostgres(data);
    await new Promise((r) => setTimeout(r, 50));
    writePid(pm.pid!);
    expect(check()).toMatchObject({ state: 'running', pid: pm.pid });
    expect(existsSync(pidFile())).toBe(true);
    pm.kill('SIGKILL');
  });

  it('the pid now belongs to another live process (not postgres): stale, pid file and socket lock removed', () => {
    writePid(process.pid);
    const lock = join(sockets, '.s.PGSQL.5432.lock');
    writeFileSync(lock, `${process.pid}\n`);
    writeFileSync(join(sockets, 'unrelated'), '');
    expect(check()).toMatchObject({ state: 'stale', pid: process.pid });
    expect(existsSync(pidFile())).toBe(false);
    expect(existsSync(lock)).toBe(false);
    expect(existsSync(join(sockets, 'unrelated'))).toBe(true);
  });

  it('a running postmaster keeps its socket lock', async () => {
    const pm = fakePostgres(data);
    await new Promise((r) => setTimeout(r, 50));
    writePid(pm.pid!);
    const lock = join(sockets, '.s.PGSQL.5432.lock');
    writeFileSync(lock, `${pm.pid}\n`);
    expect(check().state).toBe('running');
    expect(existsSync(lock)).toBe(true);
    pm.kill('SIGKILL');
    rmSync(lock);
  });

  it('the pid belongs to a postgres of another data dir: stale', async () => {
    const pm = fakePostgres(other);
    await new Promise((r) => setTimeout(r, 50));
    writePid(pm.pid!);
    expect(check()).toMatchObject({ state: 'stale', pid: pm.pid });
    expect(existsSync(pidFile())).toBe(false);
    pm.kill('SIGKILL');
  });

  it('the pid is of no process at all: stale', () => {
    writePid(2 ** 22 + 7); // above pid_max's default ceiling
    expect(check().state).toBe('stale');
  });

  it('garbage in the pid file: stale, removed', () => {
    writeFileSync(pidFile(), '12; rm -rf /\n');
    expect(check().raw.trim()).toBe('stale unreadable');
    expect(existsSync(pidFile())).toBe(false);
  });

  it('a data dir path with spaces and quotes is handled as one word', async () => {
    const odd = join(dir, "it's a dir");
    mkdirSync(odd);
    const pm = fakePostgres(odd);
    await new Promise((r) => setTimeout(r, 50));
    writeFileSync(join(odd, 'postmaster.pid'), `${pm.pid}\n`);
    const r = spawnSync('/bin/sh', ['-c', pidFileCheckScript(odd, sockets)], { encoding: 'utf8' });
    expect(parsePidFileCheck(r.stdout)).toMatchObject({ state: 'running', pid: pm.pid });
    pm.kill('SIGKILL');
  });
});

describe('findPostmasters (lab down stops these cleanly)', () => {
  it('finds a postgres whose parent is not postgres, with its -D and user', async () => {
    const pm = fakePostgres(data);
    await new Promise((r) => setTimeout(r, 50));
    const found = findPostmasters([pm.pid!, process.pid]);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ pid: pm.pid, exe: join(dir, 'bin', 'postgres'), dataDir: data, uid: process.getuid!(), gid: process.getgid!() });
    pm.kill('SIGKILL');
  });
});

describe('parsers', () => {
  it('refuse unexpected output', () => {
    expect(() => parsePidFileCheck('maybe')).toThrow(/unexpected pid file check output/);
    expect(() => parseServerCert('made\nnot a cert')).toThrow(/unexpected certificate script output/);
  });
});

// Runs the real script (openssl, runuser) where the postgres user exists, as on a node.
const hasPostgresUser = spawnSync('id', ['-u', 'postgres']).status === 0 && process.getuid?.() === 0;

describe.runIf(hasPostgresUser)('serverCertScript: the certificate the workstation pins', () => {
  it('makes it once (key 0600 of postgres), valid 2000-2100, and keeps it on later runs', () => {
    const root = mkdtempSync(join(tmpdir(), 'vlx-cert-'));
    spawnSync('chmod', ['0755', root]);
    const p = { dir: join(root, 'tls'), cert: join(root, 'tls', 'server.crt'), key: join(root, 'tls', 'server.key') };
    try {
      const run = () => {
        const r = spawnSync('/bin/sh', ['-c', serverCertScript(p, 'vlx-db n2')], { encoding: 'utf8' });
        expect(r.status, r.stderr).toBe(0);
        return parseServerCert(r.stdout);
      };
      const first = run();
      expect(first.made).toBe(true);
      const x = new X509Certificate(first.pem);
      expect(x.subject).toBe('CN=vlx-db n2');
      expect(new Date(x.validFrom).getUTCFullYear()).toBe(2000);
      expect(new Date(x.validTo).getUTCFullYear()).toBe(2100);
      expect(x.checkPrivateKey(createPrivateKey(readFileSync(p.key)))).toBe(true);
      const st = (f: string) => spawnSync('stat', ['-c', '%U %a', f], { encoding: 'utf8' }).stdout.trim();
      expect([st(p.key), st(p.cert), st(p.dir)]).toEqual(['postgres 600', 'postgres 644', 'postgres 700']);
      const second = run();
      expect(second).toEqual({ made: false, pem: first.pem });
      rmSync(p.key);
      const third = run();
      expect(third.made).toBe(true);
      expect(third.pem).not.toBe(first.pem);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
