import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { connect } from 'node:net';
import { QmpClient } from '../../main/vm/qmp.js';

/**
 * Watching every lab node's QEMUs from this machine (the lab's nodes are namespaces on it):
 * each QEMU of a VC is found in /proc, its node from its network namespace, and its run
 * state over the VM's observers' QMP socket (`<vm>.watch`, reached through
 * /proc/PID/root, so it never waits behind a workflow's own QMP connection). A guest whose
 * vCPUs run in two QEMUs at one sampled instant is a violation; an incoming QEMU is
 * paused and does not count.
 */
export interface Copy {
  vm: string;
  node: string;
  pid: number;
  status: string;
}

export interface Violation {
  at: number;
  vm: string;
  nodes: string[];
}

function netnsInodes(nodes: readonly string[]): Map<number, string> {
  const m = new Map<number, string>();
  for (const n of nodes) m.set(statSync(`/run/netns/vlx-${n}`).ino, n);
  return m;
}

function qemusOf(vc: string, ns: Map<number, string>): Omit<Copy, 'status'>[] {
  const out: Omit<Copy, 'status'>[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (!readFileSync(`/proc/${d}/comm`, 'utf8').startsWith('qemu-')) continue;
      const argv = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
      const pidfile = argv[argv.indexOf('-pidfile') + 1] ?? '';
      const m = new RegExp(`/vm/${vc}/([a-z0-9-]+)\\.pid$`).exec(pidfile);
      if (!m) continue;
      const ino = Number(/\[(\d+)\]/.exec(readlinkSync(`/proc/${d}/ns/net`))?.[1]);
      out.push({ vm: m[1], node: ns.get(ino) ?? '?', pid: Number(d) });
    } catch {
      // the process ended while we looked
    }
  }
  return out;
}

async function runState(pid: number, vc: string, vm: string, timeoutMs = 400): Promise<string> {
  const path = `/proc/${pid}/root/run/virtualinux/vm/${vc}/${vm}.watch`;
  const sock = connect(path);
  try {
    await new Promise<void>((resolve, reject) => {
      sock.once('connect', resolve);
      sock.once('error', reject);
    });
    const { client } = await QmpClient.connect(sock, { timeoutMs, label: `watch ${vm}` });
    try {
      return (await client.execute<{ status: string }>('query-status')).status;
    } finally {
      client.close();
    }
  } catch {
    return 'unknown';
  } finally {
    sock.destroy();
  }
}

export class QemuSampler {
  readonly violations: Violation[] = [];
  /** Per VM: sample times and whether some copy ran. */
  readonly up = new Map<string, { at: number; up: boolean }[]>();
  samples = 0;
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  private readonly ns: Map<number, string>;

  constructor(private readonly vc: string, nodes: readonly string[], private readonly everyMs = 100) {
    this.ns = netnsInodes(nodes);
  }

  /** VMs to account for from now on, seen or not (a VM not yet started counts as down). */
  track(vms: string[]): void {
    for (const vm of vms) if (!this.up.has(vm)) this.up.set(vm, []);
  }

  start(): void {
    this.timer = setInterval(() => void this.sample(), this.everyMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    while (this.busy) await new Promise((r) => setTimeout(r, 20));
  }

  async sample(): Promise<Copy[]> {
    if (this.busy) return [];
    this.busy = true;
    try {
      const at = Date.now();
      const copies: Copy[] = await Promise.all(qemusOf(this.vc, this.ns).map(async (c) => ({ ...c, status: await runState(c.pid, this.vc, c.vm) })));
      this.samples++;
      const vms = new Set([...copies.map((c) => c.vm), ...this.up.keys()]);
      for (const vm of vms) {
        const running = copies.filter((c) => c.vm === vm && c.status === 'running');
        if (running.length > 1) {
          // Each copy was asked on its own socket, so the answers are not of one instant: a source
          // that stopped (finish-migrate) just after it answered and a target that then started would
          // both say "running". Ask every one again, each after the first round ended: copies that
          // still all run at that later look did run together.
          const again = await Promise.all(running.map(async (c) => ({ ...c, status: await runState(c.pid, this.vc, vm) })));
          const still = again.filter((c) => c.status === 'running');
          if (still.length > 1) this.violations.push({ at, vm, nodes: still.map((c) => `${c.node} (pid ${c.pid})`) });
        }
        const list = this.up.get(vm) ?? [];
        list.push({ at, up: running.length > 0 });
        this.up.set(vm, list);
      }
      return copies;
    } finally {
      this.busy = false;
    }
  }

  /** The longest stretch, between two instants, in which no copy of the VM ran. */
  longestDown(vm: string, from: number, to: number): number {
    let longest = 0;
    let downSince: number | undefined;
    for (const s of this.up.get(vm) ?? []) {
      if (s.at < from || s.at > to) continue;
      if (!s.up) downSince ??= s.at;
      else if (downSince !== undefined) {
        longest = Math.max(longest, s.at - downSince);
        downSince = undefined;
      }
    }
    if (downSince !== undefined) longest = Math.max(longest, to - downSince);
    return longest;
  }

  /** When the VM was first seen running at or after an instant (undefined: never). */
  firstUp(vm: string, from: number): number | undefined {
    return (this.up.get(vm) ?? []).find((s) => s.at >= from && s.up)?.at;
  }
}

/** The built CLI as a child process, to be killed. Resolves with its exit (code, or the signal). */
export function spawnVlx(args: string[]): {
  child: ChildProcess; firstOutput: Promise<number>; done: Promise<{ code: number | null; signal: string | null; out: string }>;
} {
  const t0 = Date.now();
  const child = spawn('bin/vlx', ['--cluster', 'lab', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let first: (ms: number) => void = () => {};
  // The CLI says nothing until its task has started: the first byte marks the workflow's start.
  const firstOutput = new Promise<number>((resolve) => { first = resolve; });
  const onData = (c: Buffer): void => {
    if (!out) first(Date.now() - t0);
    out += String(c);
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const done = new Promise<{ code: number | null; signal: string | null; out: string }>((resolve) => {
    child.on('close', (code, signal) => resolve({ code, signal, out }));
  });
  void done.then(() => first(Date.now() - t0));
  return { child, firstOutput, done };
}
