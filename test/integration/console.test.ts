// Consoles against the lab: node shells over an SSH PTY, the CLI under a real pseudo
// terminal and in pipe mode, and a VM's serial console shared by several viewers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { getCluster } from '../../main/config/clusters.js';
import { openCluster, type SshClusterSession } from '../../main/ssh/session.js';
import { TerminalHub, type TerminalExit } from '../../main/consoles/terminals.js';
import { mappingHint } from '../../main/consoles/mappingHint.js';
import { VlxError } from '../../main/errors.js';
import type { VcService } from '../../main/service/vcCore.js';
import { cleanUpTestVcs, ensureVcLab, expectOk, onNode, testVc, vcService } from './vc-support.js';
import { storagePaths } from '../../main/domain/storagePaths.js';
import { vmRuntimePaths } from '../../main/domain/addressing.js';
import { qemuArgs, TCG_ACCEL } from '../../main/vm/qemuArgs.js';
import { TINY_CMDLINE } from '../../main/images/tiny.js';
import { sh } from '../../main/util/quote.js';

const VLX = join(process.cwd(), 'bin/vlx');

/**
 * Everything a hub says about one terminal, with waits on what arrives. It draws what it
 * gets at once (acknowledges it), as a face does: the hub's flow control holds back a face
 * that does not.
 */
class Watch {
  text = '';
  chunks: string[] = [];
  exit?: TerminalExit;
  private wakers = new Set<() => void>();

  constructor(hub: TerminalHub, readonly id: string) {
    hub.onData((tid, d) => {
      if (tid !== this.id) return;
      this.text += d;
      this.chunks.push(d);
      setImmediate(() => { try { hub.ack(tid, d.length); } catch { /* closed meanwhile */ } });
      this.wake();
    });
    hub.onExit((tid, e) => {
      if (tid !== this.id) return;
      this.exit = e;
      this.wake();
    });
  }

  private wake(): void {
    for (const w of [...this.wakers]) w();
  }

  /** Wait for output matching re after `from` (default: anything seen so far counts). */
  until(re: RegExp, from = 0, limitMs = 60_000): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const m = this.text.slice(from).match(re);
        if (m) { done(); resolve(m); return; }
        if (this.exit) { done(); reject(new Error(`ended (${this.exit.reason}) before ${re}: ${JSON.stringify(this.text.slice(-400))}`)); }
      };
      const timer = setTimeout(() => { done(); reject(new Error(`no ${re} within ${limitMs} ms: ${JSON.stringify(this.text.slice(-400))}`)); }, limitMs);
      const done = () => { clearTimeout(timer); this.wakers.delete(check); };
      this.wakers.add(check);
      check();
    });
  }

  ended(limitMs = 60_000): Promise<TerminalExit> {
    return new Promise((resolve, reject) => {
      const check = () => { if (this.exit) { done(); resolve(this.exit); } };
      const timer = setTimeout(() => { done(); reject(new Error(`no exit within ${limitMs} ms`)); }, limitMs);
      const done = () => { clearTimeout(timer); this.wakers.delete(check); };
      this.wakers.add(check);
      check();
    });
  }
}

// A real pseudo terminal for the CLI: python3's pty module, driven by a list of steps.
const PTY_DRIVER = String.raw`
import json, os, pty, re, select, struct, sys, fcntl, termios, time
spec = json.loads(sys.argv[1])
def winsize(fd, rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack('HHHH', rows, cols, 0, 0))
pid, fd = pty.fork()
if pid == 0:
    os.execvp(spec['argv'][0], spec['argv'])
winsize(fd, *spec['size'])
out = b''
def pump(timeout):
    global out
    r, _, _ = select.select([fd], [], [], timeout)
    if not r: return True
    try: chunk = os.read(fd, 65536)
    except OSError: return False
    if not chunk: return False
    out += chunk
    return True
def until(pattern, limit):
    rx = re.compile(pattern.encode(), re.S)
    end = time.monotonic() + limit
    while time.monotonic() < end:
        if rx.search(out): return True
        if not pump(0.2): return bool(rx.search(out))
    return False
failed = None
for step in spec['steps']:
    if 'resize' in step:
        winsize(fd, *step['resize'])
        # as a person would: the next keystroke comes after the window settled, not in the same instant
        time.sleep(0.3)
    if 'send' in step: os.write(fd, step['send'].encode())
    if 'expect' in step and not until(step['expect'], 60):
        failed = step['expect']; break
if failed: os.kill(pid, 15)
while pump(0.5): pass
_, status = os.waitpid(pid, 0)
print(json.dumps({'failed': failed, 'code': os.waitstatus_to_exitcode(status), 'output': out.decode('utf-8', 'replace')}))
`;

interface PtyStep { send?: string; expect?: string; resize?: [number, number] }
let driver: string;

async function underPty(argv: string[], size: [number, number], steps: PtyStep[]): Promise<{ failed: string | null; code: number; output: string }> {
  const { stdout } = await promisify(execFile)('python3', [driver, JSON.stringify({ argv, size, steps })], { maxBuffer: 16 << 20 });
  return JSON.parse(stdout);
}

/** The CLI with its stdin a pipe: what a script does. */
function piped(args: string[], input: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn(VLX, ['--cluster', 'lab', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => { stdout += d; });
    p.stderr.on('data', (d) => { stderr += d; });
    p.on('error', reject);
    p.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    p.stdin.end(input);
  });
}

let session: SshClusterSession;
let hub: TerminalHub;

beforeAll(() => {
  const dir = mkdtempSync(join(tmpdir(), 'vlx-console-'));
  driver = join(dir, 'pty_driver.py');
  writeFileSync(driver, PTY_DRIVER);
  session = openCluster(getCluster('lab'));
  hub = new TerminalHub(session);
});
afterAll(async () => {
  hub?.closeAll();
  await session?.close();
  // The VMs below, the bare one included: anything left of them fails the run.
  await cleanUpTestVcs();
});

describe('node shell through the TerminalHub', () => {
  it('types a command and reads the node name', async () => {
    const { id, title } = await hub.open({ node: 'n3' }, { rows: 24, cols: 80 });
    expect(title).toBe('n3');
    const w = new Watch(hub, id);
    hub.write(id, 'echo "h=$(hostname)"\r');
    // The PTY echoes the typed line with the $( ) unexpanded: only the output has "h=n3".
    await w.until(/h=n3\r\n/);
    expect(hub.info(id)).toMatchObject({ node: 'n3', open: true, size: { rows: 24, cols: 80 } });
    hub.close(id);
  });

  it('resizes the PTY: stty size follows', async () => {
    const { id } = await hub.open({ node: 'n2' }, { rows: 24, cols: 80 });
    const w = new Watch(hub, id);
    hub.write(id, 'echo "sz=$(stty size)"\r');
    await w.until(/sz=24 80\r\n/);
    hub.resize(id, 40, 120);
    const from = w.text.length;
    hub.write(id, 'echo "sz=$(stty size)"\r');
    await w.until(/sz=40 120\r\n/, from);
    hub.close(id);
  });

  it('ends with the shell: exit status as the reason', async () => {
    const { id } = await hub.open({ node: 'n1' }, { rows: 24, cols: 80 });
    const w = new Watch(hub, id);
    hub.write(id, 'exit 3\r');
    expect(await w.ended()).toEqual({ reason: 'exited with code 3', code: 3, lost: false });
    expect(() => hub.write(id, 'x')).toThrow(/has ended: exited with code 3/);
    hub.close(id);
  });

  it('closing says "closed by you" at once and forgets the terminal', async () => {
    const { id } = await hub.open({ node: 'n1' }, { rows: 24, cols: 80 });
    const w = new Watch(hub, id);
    hub.close(id);
    expect(w.exit).toEqual({ reason: 'closed by you', lost: false });
    expect(() => hub.write(id, 'x')).toThrow(VlxError);
    expect(hub.list().some((t) => t.id === id)).toBe(false);
  });

  it('never splits a multibyte character across data events', async () => {
    const { id } = await hub.open({ node: 'n4' }, { rows: 24, cols: 80 });
    const w = new Watch(hub, id);
    const unit = 'é€😀';
    // ~180 KB of 2-, 3- and 4-byte characters: SSH packets end wherever they like in it.
    hub.write(id, `for i in $(seq 1 20000); do printf '${unit}'; done; echo; echo "m=$((40+2))"\r`);
    await w.until(/m=42\r\n/, 0, 120_000);
    for (const c of w.chunks) {
      expect(c.includes('\uFFFD')).toBe(false);
      expect(Buffer.from(c, 'utf8').toString('utf8')).toBe(c); // no lone surrogate
    }
    expect(w.text.includes(unit.repeat(20000))).toBe(true);
    hub.close(id);
  });

  it('refuses an unknown node and a bad name before anything runs', async () => {
    await expect(hub.open({ node: 'n99' }, { rows: 24, cols: 80 })).rejects.toMatchObject({ code: 'not-found' });
    await expect(hub.open({ node: 'n1;id' }, { rows: 24, cols: 80 })).rejects.toMatchObject({ code: 'invalid-input', message: expect.stringMatching(/^node: must be/) });
    await expect(hub.open({ node: 'n1' }, { rows: 1, cols: 80 })).rejects.toMatchObject({ code: 'invalid-input', message: expect.stringMatching(/^rows: must be a whole number from 2 to 500/) });
  });
});

describe('vlx console NODE', () => {
  it('under a pseudo terminal: reads the hostname, follows a resize, exits 0 after `exit`', async () => {
    const r = await underPty([VLX, '--cluster', 'lab', 'console', 'n3'], [30, 100], [
      { expect: 'Escape: Ctrl-\\] then q' },
      { send: 'echo "h=$(hostname)"\r', expect: 'h=n3\r\n' },
      { send: 'echo "sz=$(stty size)"\r', expect: 'sz=30 100' },
      { resize: [40, 120] },
      { send: 'echo "sz=$(stty size)"\r', expect: 'sz=40 120' },
      { send: 'exit\r', expect: '\\[n3: exited with code 0\\]' },
    ]);
    expect(r.failed).toBeNull();
    expect(r.code).toBe(0);
  });

  it('gives the terminal back as it was: no raw mode left behind', async () => {
    const r = await underPty(['/bin/sh', '-c', `${VLX} --cluster lab console n2; stty -a`], [24, 80], [
      { expect: 'Escape' },
      { send: 'exit\r', expect: 'exited with code 0' },
      { expect: 'speed' },
    ]);
    expect(r.failed).toBeNull();
    // ICANON and ECHO on, output post-processing on: a usable shell prompt again.
    expect(r.output).toMatch(/(^|\s)icanon(\s|$)/m);
    expect(r.output).toMatch(/(^|\s)echo(\s|$)/m);
    expect(r.output).toMatch(/(^|\s)opost(\s|$)/m);
  });

  it('Ctrl-] then q leaves a node shell too', async () => {
    const r = await underPty([VLX, '--cluster', 'lab', 'console', 'n1'], [24, 80], [
      { expect: '# $' },
      { send: '\x1dq', expect: '\\[n1: closed by you\\]' },
    ]);
    expect(r.failed).toBeNull();
    expect(r.code).toBe(0);
  });

  it('pipe mode: runs what comes on stdin and exits with the shell', async () => {
    const r = await piped(['console', 'n4'], 'echo "h=$(hostname)"\nexit 7\n');
    expect(r.stdout).toMatch(/h=n4\r\n/);
    expect(r.stderr).toMatch(/\[n4: exited with code 7\]/);
    expect(r.code).toBe(7);
  });

  it('pipe mode: end of input ends the shell like Ctrl-D', async () => {
    const r = await piped(['console', 'n2'], 'echo "h=$(hostname)"');
    expect(r.stdout).toMatch(/h=n2\r\n/);
    expect(r.code).toBe(0);
  });

  it.each([
    ['n1;id', 2, /NODE: must be 1-32 chars/],
    ['web/vm1/x', 2, /target: must be NODE or VC\/VM/],
    ['n77', 3, /has no node "n77"/],
    ['nosuchvc/vm1', 4, /VM nosuchvc\/vm1 is not running: no node has its serial console/],
  ])('%s → exit %i', async (target, code, msg) => {
    const r = await piped(['console', target], '');
    expect(r.code).toBe(code);
    expect(r.stderr).toMatch(msg);
  });
});

/** A tiny guest started with QEMU directly on a node, its sockets where a VC's VM has them. */
async function startBareVm(s: SshClusterSession, node: string, vc: string, vm: string): Promise<void> {
  const img = storagePaths().image('tiny');
  const run = vmRuntimePaths(vc, vm);
  const cmd = qemuArgs({
    name: vm, runDir: run.dir, accel: TCG_ACCEL, memMb: 128, vcpus: 1, disks: [], nic: null,
    boot: { kind: 'kernel', kernel: img.kernel, initrd: img.initrd, append: TINY_CMDLINE },
  });
  const conn = await s.node(node);
  await conn.run(`mkdir -p ${sh(run.dir)} && ${sh(...cmd.argv)}`);
}

async function killBareVm(s: SshClusterSession, node: string, vc: string): Promise<void> {
  const dir = vmRuntimePaths(vc, 'vm1').dir;
  const conn = await s.node(node);
  await conn.exec(`for p in ${sh(dir)}/*.pid; do [ -f "$p" ] && kill -9 "$(cat "$p")"; done; rm -rf ${sh(dir)}`);
}

describe('VM serial console (a guest started on n1 by QEMU directly)', () => {
  const VC = testVc('conbare');

  beforeAll(async () => {
    await ensureVcLab(); // the tiny image on shared storage
    await killBareVm(session, 'n1', VC);
    await startBareVm(session, 'n1', VC, 'vm1');
  });
  afterAll(async () => {
    await killBareVm(session, 'n1', VC);
  });

  it('shares one serial connection between viewers; a late viewer gets the scrollback', async () => {
    const a = await hub.open({ vc: VC, vm: 'vm1' }, { rows: 24, cols: 80 });
    const b = await hub.open({ vc: VC, vm: 'vm1' }, { rows: 30, cols: 100 });
    expect(a.title).toBe(`${VC}/vm1 (serial)`);
    expect(hub.info(a.id).node).toBe('n1');
    const wa = new Watch(hub, a.id);
    const wb = new Watch(hub, b.id);
    // The guest may still be booting: its shell answers once it is up.
    hub.write(a.id, '\n');
    await wa.until(/vlx-guest:.*# /, 0, 120_000);
    hub.write(a.id, 'echo "x=$((6*7))"\n');
    await wa.until(/x=42\r?\n/);
    await wb.until(/x=42\r?\n/);
    // A key typed in either viewer reaches the one guest shell.
    hub.write(b.id, 'echo "y=$((5*5))"\n');
    await wa.until(/y=25\r?\n/);

    const c = await hub.open({ vc: VC, vm: 'vm1' }, { rows: 24, cols: 80 });
    const wc = new Watch(hub, c.id);
    await wc.until(/x=42\r?\n[\s\S]*y=25\r?\n/);

    // Resizing a serial console is remembered, not an error.
    hub.resize(c.id, 50, 150);
    expect(hub.info(c.id).size).toEqual({ rows: 50, cols: 150 });

    hub.close(a.id);
    const from = wb.text.length;
    hub.write(b.id, 'echo "z=$((7*7))"\n');
    await wb.until(/z=49\r?\n/, from);
    hub.close(b.id);
    hub.close(c.id);
  });

  it('vlx console VC/VM in pipe mode, once the app has let go of the socket', async () => {
    const r = await piped(['console', '--quiet-ms', '1500', `${VC}/vm1`], 'echo "w=$((8*8))"\n');
    expect(r.stderr).toMatch(new RegExp(`Connected to the serial console of ${VC}/vm1 on node n1\\. Escape: Ctrl-\\] then q`));
    expect(r.stdout).toMatch(/w=64\r?\n/);
    expect(r.stderr).toMatch(new RegExp(`\\[${VC}/vm1: closed by you\\]`));
    expect(r.code).toBe(0);
  });

  it('vlx console VC/VM under a pseudo terminal: Ctrl-] then q detaches', async () => {
    const r = await underPty([VLX, '--cluster', 'lab', 'console', `${VC}/vm1`], [24, 80], [
      { expect: 'Escape: Ctrl-\\] then q' },
      { send: 'echo "v=$((9*9))"\n', expect: 'v=81' },
      { send: '\x1dq', expect: `\\[${VC}/vm1: closed by you\\]` },
    ]);
    expect(r.failed).toBeNull();
    expect(r.code).toBe(0);
  });

  it('says "VM stopped" to every viewer when the guest powers off, and reconnects after a restart', async () => {
    const a = await hub.open({ vc: VC, vm: 'vm1' }, { rows: 24, cols: 80 });
    const b = await hub.open({ vc: VC, vm: 'vm1' }, { rows: 24, cols: 80 });
    const wa = new Watch(hub, a.id);
    const wb = new Watch(hub, b.id);
    hub.write(a.id, 'poweroff -f\n');
    expect(await wa.ended()).toEqual({ reason: 'VM stopped', lost: false });
    expect(await wb.ended()).toEqual({ reason: 'VM stopped', lost: false });
    await expect(hub.open({ vc: VC, vm: 'vm1' }, { rows: 24, cols: 80 })).rejects.toMatchObject({
      code: 'conflict', message: expect.stringMatching(new RegExp(`^VM ${VC}/vm1 is not running`)),
    });
    const cli = await piped(['console', `${VC}/vm1`], '');
    expect(cli.code).toBe(4);
    expect(cli.stderr).toMatch(new RegExp(`VM ${VC}/vm1 is not running`));

    await killBareVm(session, 'n1', VC);
    await startBareVm(session, 'n1', VC, 'vm1');
    await hub.reconnect(a.id);
    expect(hub.info(a.id).open).toBe(true);
    wa.exit = undefined;
    const from = wa.text.length;
    hub.write(a.id, '\n');
    await wa.until(/vlx-guest:.*# /, from, 120_000);
    hub.write(a.id, 'echo "r=$((3*3))"\n');
    await wa.until(/r=9\r?\n/, from);
    hub.close(a.id);
    hub.close(b.id);
  });
});

describe('VM serial console of a VC started by the VC service', () => {
  const VC = testVc('convc');
  let svc: VcService;
  let vmHub: TerminalHub;

  beforeAll(async () => {
    await ensureVcLab();
    svc = vcService();
    expectOk(await svc.createVc({ name: VC, nodes: 2, vcpus: 1, memMb: 128, diskGb: 1, swapMb: 0, image: 'tiny', subnet: 'auto' }));
    expectOk(await svc.startVc(VC, 'cyclic', 'free'));
    vmHub = new TerminalHub(svc.env.session, { vmNodeHint: mappingHint(svc.env.db) });
  });
  afterAll(async () => {
    vmHub?.closeAll();
    // Destroyed by the file's cleanup, which fails the run if that fails.
    await svc?.close();
  });

  it('attaches on the node the DB maps the VM to, and ends with "VM stopped" at vc stop', async () => {
    const st = await svc.vcStatus(VC);
    for (const vm of ['vm1', 'vm2']) {
      const t = await vmHub.open({ vc: VC, vm }, { rows: 24, cols: 80 });
      expect(vmHub.info(t.id).node).toBe(st.vms.find((v) => v.name === vm)?.node);
      const w = new Watch(vmHub, t.id);
      vmHub.write(t.id, 'echo "n=$(hostname)-$((2*3))"\n');
      await w.until(/n=\S+-6\r?\n/);
      if (vm === 'vm2') vmHub.close(t.id);
    }
    const open = vmHub.list().filter((t) => t.open);
    expect(open).toHaveLength(1);
    const w = new Watch(vmHub, open[0].id);
    expectOk(await svc.stopVc(VC, { timeoutS: 20 }));
    expect(await w.ended()).toEqual({ reason: 'VM stopped', lost: false });
  });
});

describe('a node that dies under its shell', () => {
  it('reports "node unreachable", and reconnects once the node is back', async () => {
    const { id } = await hub.open({ node: 'n4' }, { rows: 24, cols: 80 });
    const w = new Watch(hub, id);
    hub.write(id, 'echo "h=$(hostname)"\r');
    await w.until(/h=n4\r\n/);
    const crash = await promisify(execFile)(VLX, ['lab', 'crash', 'n4']).catch((e) => e);
    expect(crash.code ?? 0).toBe(0);
    try {
      // Keep-alives notice the silent node (no FIN ever comes from a cut link).
      expect(await w.ended(90_000)).toEqual({ reason: 'node unreachable', lost: true });
    } finally {
      await promisify(execFile)(VLX, ['lab', 'revive', 'n4']);
    }
    expect((await onNode('n4', 'hostname')).stdout.trim()).toBe('n4');
    await hub.reconnect(id);
    w.exit = undefined;
    const from = w.text.length;
    hub.write(id, 'echo "again=$(hostname)"\r');
    await w.until(/again=n4\r\n/, from);
    hub.close(id);
  }, 240_000);
});
