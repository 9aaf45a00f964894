// The SSH core against a real OpenSSH server on 127.0.0.1 (started and stopped here).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NodeConnection, notStarted } from '../../main/ssh/connection.js';
import { acceptHostKey, probeHostKey } from '../../main/ssh/hostKeys.js';
import { addKnownHost, fingerprintSha256, lookupHost } from '../../main/ssh/knownHosts.js';
import { openCluster } from '../../main/ssh/session.js';
import { VlxError } from '../../main/errors.js';
import { sh } from '../../main/util/quote.js';
import { freePort, makeSshd, type TestSshd } from './ssh-sshd.js';

let sshd: TestSshd;
let work: string;
let knownHostsFile: string;
const open: NodeConnection[] = [];

function conn(over: Partial<ConstructorParameters<typeof NodeConnection>[1]> = {}, name = 'n1'): NodeConnection {
  const c = new NodeConnection({ name, address: '127.0.0.1' }, { user: 'root', port: sshd.port, keyFile: sshd.clientKey, knownHostsFile, ...over });
  open.push(c);
  return c;
}

async function failure(p: Promise<unknown>): Promise<VlxError> {
  try {
    await p;
  } catch (e) {
    if (e instanceof VlxError) return e;
    throw e;
  }
  throw new Error('expected a failure');
}

beforeAll(async () => {
  sshd = await makeSshd();
  await sshd.start();
  work = mkdtempSync(join(tmpdir(), 'vlx-ssh-test-'));
}, 30_000);

afterAll(async () => {
  await Promise.all(open.map((c) => c.close()));
  await sshd.cleanup();
  rmSync(work, { recursive: true, force: true });
});

describe('host keys against a real sshd', () => {
  afterEach(() => {
    knownHostsFile = join(work, 'known_hosts');
  });

  it('refuses an unknown host, showing its SHA256 fingerprint and the flag to accept it', async () => {
    knownHostsFile = join(work, 'kh-unknown');
    const e = await failure(conn({ acceptNew: false }).exec('true'));
    expect(e.code).toBe('host-key-unknown');
    expect(e.message).toContain(fingerprintSha256(sshd.hostKeyPub().keyBase64));
    expect(e.message).toContain(`127.0.0.1:${sshd.port}`);
    expect(e.hint).toContain('--accept-new-host-key');
    expect(existsSync(knownHostsFile)).toBe(false);
  });

  it('accepts and remembers a new host when asked, then connects without asking', async () => {
    knownHostsFile = join(work, 'kh-accept');
    const r = await conn({ acceptNew: true }).exec('echo hi');
    expect(r).toMatchObject({ code: 0, stdout: 'hi\n' });
    expect(lookupHost('127.0.0.1', sshd.port, knownHostsFile)).toEqual([sshd.hostKeyPub()]);
    expect((await conn({ acceptNew: false }).exec('true')).code).toBe(0);
  });

  it('takes acceptance from VLX_ACCEPT_NEW_HOST_KEY=1 (what --accept-new-host-key sets)', async () => {
    knownHostsFile = join(work, 'kh-env');
    process.env.VLX_ACCEPT_NEW_HOST_KEY = '1';
    try {
      expect((await conn().exec('true')).code).toBe(0);
    } finally {
      delete process.env.VLX_ACCEPT_NEW_HOST_KEY;
    }
    expect(lookupHost('127.0.0.1', sshd.port, knownHostsFile)).toHaveLength(1);
  });

  it('refuses a changed key loudly, even with acceptance on, and keeps the old key', async () => {
    knownHostsFile = join(work, 'kh-changed');
    const other = join(work, 'other_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
    const [keyType, keyBase64] = readFileSync(`${other}.pub`, 'utf8').trim().split(/\s+/);
    addKnownHost('127.0.0.1', sshd.port, { keyType, keyBase64 }, knownHostsFile);
    const before = readFileSync(knownHostsFile, 'utf8');
    for (const acceptNew of [false, true]) {
      const e = await failure(conn({ acceptNew }).exec('true'));
      expect(e.code).toBe('host-key-changed');
      expect(e.message).toMatch(/^HOST KEY CHANGED for node n1 \(127\.0\.0\.1:\d+\)/);
      expect(e.message).toContain(fingerprintSha256(sshd.hostKeyPub().keyBase64));
      expect(e.message).toContain(fingerprintSha256(keyBase64));
    }
    expect(readFileSync(knownHostsFile, 'utf8')).toBe(before);
  });

  it('probes a key without authenticating and accepts only the fingerprint that was shown', async () => {
    knownHostsFile = join(work, 'kh-probe');
    const p = await probeHostKey('127.0.0.1', sshd.port, { knownHostsFile });
    expect(p).toMatchObject({ keyType: 'ssh-ed25519', known: 'unknown', fingerprint: fingerprintSha256(sshd.hostKeyPub().keyBase64) });
    const wrong = await failure(acceptHostKey('127.0.0.1', sshd.port, 'SHA256:somethingelse', { knownHostsFile }));
    expect(wrong.code).toBe('host-key-changed');
    expect(existsSync(knownHostsFile)).toBe(false);
    expect((await acceptHostKey('127.0.0.1', sshd.port, p.fingerprint, { knownHostsFile })).known).toBe('match');
    expect((await probeHostKey('127.0.0.1', sshd.port, { knownHostsFile })).known).toBe('match');
  });
});

describe('exec, run, shell and forwarding', () => {
  let c: NodeConnection;
  beforeAll(() => {
    knownHostsFile = join(work, 'known_hosts');
    addKnownHost('127.0.0.1', sshd.port, sshd.hostKeyPub(), knownHostsFile);
    c = conn();
  });

  it('returns a non-zero exit as data with both streams', async () => {
    const r = await c.exec(sh('sh', '-c', 'echo out; echo err >&2; exit 3'));
    expect(r).toEqual({ code: 3, stdout: 'out\n', stderr: 'err\n' });
  });

  it('never loses the exit status of a command that ends at once (it can arrive with the channel confirmation)', async () => {
    const codes = await Promise.all(Array.from({ length: 120 }, (_, i) => c.exec(i % 2 ? 'true' : 'exit 7').then((r) => r.code)));
    expect(codes).toEqual(Array.from({ length: 120 }, (_, i) => (i % 2 ? 0 : 7)));
  });

  it('run() turns a non-zero exit into remote-failed naming node, command, code and stderr', async () => {
    const cmd = sh('sh', '-c', 'echo broken >&2; exit 4');
    const e = await failure(c.run(cmd));
    expect(e.code).toBe('remote-failed');
    expect(e.message).toBe(`on node n1: \`${cmd}\` exited with 4: broken`);
    expect(e.details).toMatchObject({ node: 'n1', command: cmd, code: 4, stderr: 'broken\n' });
    expect(await c.run('echo ok')).toBe('ok\n');
  });

  it('streams output as it arrives and feeds stdin', async () => {
    const chunks: string[] = [];
    const r = await c.exec('cat; echo done >&2', { stdin: 'über\n', onStdout: (s) => chunks.push(s) });
    expect(chunks.join('')).toBe('über\n');
    expect(r).toMatchObject({ code: 0, stdout: 'über\n', stderr: 'done\n' });
  });

  it('quotes arguments exactly through the remote shell', async () => {
    const nasty = ["it's", '$(id)', 'a b', '`x`', ';', ''];
    const r = await c.exec(sh('printf', '%s|', ...nasty));
    expect(r.stdout).toBe(nasty.map((s) => `${s}|`).join(''));
  });

  it('times out a command that does not finish, and the connection stays usable', async () => {
    const e = await failure(c.exec('sleep 30', { timeoutMs: 300 }));
    expect(e.code).toBe('timeout');
    expect(e.message).toContain('`sleep 30` on node n1 did not finish within 0.3 s');
    expect((await c.exec('echo still')).stdout).toBe('still\n');
  });

  it('cancels a command with an AbortSignal', async () => {
    const ac = new AbortController();
    const p = c.exec('sleep 30', { signal: ac.signal, onStdout: () => {} });
    setTimeout(() => ac.abort(), 100);
    expect((await failure(p)).code).toBe('cancelled');
  });

  it('runs more commands at once than its channel bound without sshd refusing any', async () => {
    const rs = await Promise.all(Array.from({ length: 30 }, (_, i) => c.exec(`echo ${i}`)));
    expect(rs.map((r) => r.stdout.trim())).toEqual(Array.from({ length: 30 }, (_, i) => String(i)));
  });

  it('opens a PTY shell that follows resizes', async () => {
    const ch = await c.shell({ rows: 24, cols: 80 });
    let out = '';
    ch.on('data', (b: Buffer) => { out += b.toString(); });
    const waitFor = (re: RegExp) => new Promise<void>((resolve) => {
      const check = () => (re.test(out) ? resolve() : setTimeout(check, 20));
      check();
    });
    ch.write('stty size | sed s/^/SIZE=/\n');
    await waitFor(/SIZE=24 80/);
    ch.setWindow(40, 120, 0, 0);
    ch.write('stty size | sed s/^/SIZE=/\n');
    await waitFor(/SIZE=40 120/);
    ch.end('exit\n');
  });

  it('forwards a unix socket on the node (stream-local) and a TCP port', async () => {
    const sock = join(work, 'echo.sock');
    const port = await freePort();
    // socat stands in for QEMU's QMP socket: it answers each connection with a greeting.
    const { spawn } = await import('node:child_process');
    const a = spawn('socat', [`UNIX-LISTEN:${sock},fork`, 'SYSTEM:echo greeting-unix']);
    const b = spawn('socat', [`TCP-LISTEN:${port},bind=127.0.0.1,reuseaddr,fork`, 'SYSTEM:echo greeting-tcp']);
    try {
      await c.run(sh('sh', '-c', `while ! [ -S ${sock} ]; do sleep 0.05; done`), { timeoutMs: 10_000 });
      const read = (s: NodeJS.ReadableStream) => new Promise<string>((resolve) => {
        let t = '';
        s.on('data', (d: Buffer) => { t += d.toString(); });
        s.on('end', () => resolve(t));
      });
      expect(await read(await c.openUnixSocket(sock))).toBe('greeting-unix\n');
      let tcp = '';
      for (let i = 0; i < 100 && !tcp; i++) {
        tcp = await c.openTcp('127.0.0.1', port).then(read, () => '');
      }
      expect(tcp).toBe('greeting-tcp\n');
    } finally {
      a.kill();
      b.kill();
    }
  });
});

describe('failures a person can act on', () => {
  beforeAll(() => {
    knownHostsFile = join(work, 'known_hosts');
  });

  it('a closed port: unreachable, naming node and address', async () => {
    const port = await freePort();
    const e = await failure(new NodeConnection({ name: 'n9', address: '127.0.0.1' }, { user: 'root', port, keyFile: sshd.clientKey, knownHostsFile }).exec('true'));
    expect(e.code).toBe('unreachable');
    expect(e.message).toBe(`node n9 (127.0.0.1:${port}) refused the connection`);
  });

  it('a key the node does not accept: auth-failed', async () => {
    const stranger = join(work, 'stranger');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', stranger]);
    const e = await failure(conn({ keyFile: stranger }).exec('true'));
    expect(e.code).toBe('auth-failed');
    expect(e.message).toContain(`node n1 (127.0.0.1:${sshd.port}): the key was refused for root@127.0.0.1`);
  });

  it('neither a key file nor an agent: auth-failed saying what to give', async () => {
    const saved = process.env.SSH_AUTH_SOCK;
    delete process.env.SSH_AUTH_SOCK;
    try {
      const e = await failure(conn({ keyFile: undefined }).exec('true'));
      expect(e.code).toBe('auth-failed');
      expect(e.hint).toContain('--key');
    } finally {
      if (saved !== undefined) process.env.SSH_AUTH_SOCK = saved;
    }
  });

  it('uses the SSH agent when there is no key file', async () => {
    const agentDir = mkdtempSync(join(tmpdir(), 'vlx-agent-'));
    const sockPath = join(agentDir, 'agent.sock');
    const out = execFileSync('ssh-agent', ['-a', sockPath]).toString();
    const pid = Number(/SSH_AGENT_PID=(\d+)/.exec(out)?.[1]);
    try {
      execFileSync('ssh-add', [sshd.clientKey], { env: { ...process.env, SSH_AUTH_SOCK: sockPath }, stdio: 'ignore' });
      const r = await conn({ keyFile: undefined, agent: sockPath }).exec('echo via-agent');
      expect(r.stdout).toBe('via-agent\n');
    } finally {
      process.kill(pid, 'SIGTERM');
      rmSync(agentDir, { recursive: true, force: true });
    }
  });
});

describe('drops, reconnects and the any-node session', () => {
  beforeAll(() => {
    knownHostsFile = join(work, 'known_hosts');
  });

  it('reconnects on the next call after the connection was cut', async () => {
    const c = conn();
    expect((await c.exec('echo one')).stdout).toBe('one\n');
    // Cut the connection once the remote command has surely started, not after a guessed delay.
    let started!: () => void;
    const startedSeen = new Promise<void>((r) => { started = r; });
    const running = c.exec('echo started; exec sleep 30', { onStdout: (d) => { if (d.includes('started')) started(); } });
    await startedSeen;
    for (const pid of sshd.sessionPids()) process.kill(pid, 'SIGKILL');
    const e = await failure(running);
    expect(e.code).toBe('unreachable');
    expect(e.message).toContain('node n1');
    expect((await c.exec('echo two')).stdout).toBe('two\n');
  });

  it('notices a node that stopped answering without closing (half-open) and says the command never started', async () => {
    const c = conn({ channelOpenTimeoutMs: 500, keepaliveIntervalMs: 60_000 });
    await c.exec('true');
    const frozen = sshd.sessionPids();
    for (const pid of frozen) process.kill(pid, 'SIGSTOP');
    try {
      const e = await failure(c.exec('echo never'));
      expect(e.code).toBe('unreachable');
      expect(notStarted(e)).toBe(true);
      expect(c.connected).toBe(false);
    } finally {
      for (const pid of frozen) {
        try { process.kill(pid, 'SIGKILL'); process.kill(pid, 'SIGCONT'); } catch { /* gone */ }
      }
    }
  });

  it('any() takes a live node when the preferred one is dead, remembers it, and onNodes reports the dead one as data', async () => {
    const deadPort = await freePort();
    // Two "nodes" on one address is not possible with one port each; the dead node is a closed port.
    const config = {
      name: 't', user: 'root', port: sshd.port, keyFile: sshd.clientKey, lab: false,
      nodes: [{ name: 'dead', address: '127.0.0.2' }, { name: 'live', address: '127.0.0.1' }],
      lastNode: 'dead',
    };
    void deadPort;
    const s = openCluster(config, { knownHostsFile, raceStaggerMs: 50 });
    try {
      const c = await s.any();
      expect(c.name).toBe('live');
      expect(s.currentNode).toBe('live');
      const rs = await s.onNodes('all', 'echo hi');
      expect(rs.find((r) => r.node === 'live')).toMatchObject({ code: 0, stdout: 'hi\n' });
      const dead = rs.find((r) => r.node === 'dead')!;
      expect(dead.code).toBe(-1);
      expect(dead.error?.code).toMatch(/unreachable|host-key-unknown/);
      const r = await s.execAny('hostname');
      expect(r.node).toBe('live');
      await expect(s.onNodes(['x;rm'], 'true')).rejects.toMatchObject({ code: 'invalid-input' });
      await expect(s.onNodes(['nope'], 'true')).rejects.toMatchObject({ code: 'not-found' });
    } finally {
      await s.close();
    }
  });

  it('a node added to an open session (an install run in this process) is used at once; a known name or a bad one is not taken', async () => {
    const config = { name: 't', user: 'root', port: sshd.port, keyFile: sshd.clientKey, lab: false, nodes: [{ name: 'first', address: '127.0.0.1' }] };
    const s = openCluster(config, { knownHostsFile, raceStaggerMs: 50 });
    try {
      await expect(s.onNodes(['joined'], 'true')).rejects.toMatchObject({ code: 'not-found' });
      expect(s.addNodes([{ name: 'joined', address: '127.0.0.1' }, { name: 'first', address: '127.0.0.9' }])).toEqual(['joined']);
      expect(s.nodes()).toEqual([{ name: 'first', address: '127.0.0.1' }, { name: 'joined', address: '127.0.0.1' }]);
      const [r] = await s.onNodes(['joined'], 'echo hi');
      expect(r).toMatchObject({ node: 'joined', code: 0, stdout: 'hi\n' });
      expect(() => s.addNodes([{ name: 'x;rm', address: '127.0.0.1' }])).toThrow(/node name/);
      expect(s.nodes().map((n) => n.name)).toEqual(['first', 'joined']);
    } finally {
      await s.close();
    }
  });
});
