import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { cleanUpTestVcs, ensureVcLab, guestRun, nodeAddr, onNode, testVc, vcService, vlx } from './vc-support.js';
import type { VcService } from '../../main/service/vcCore.js';
import { MIGRATIONS } from '../../main/db/migrations/index.js';

/**
 * The commands no other test runs, through the face a user types: `bin/vlx` as a child
 * process against the lab. One 2-VM VC goes through status, volumes, a live move, save, a
 * saved VM relocated to another node, restore and stop; then the database, the node
 * services, the task list and the image commands. What the CLI claims is checked against
 * the nodes over SSH or against the guest itself.
 */
const VC = testVc('cli');
const IMAGE = testVc('cloud');
let s: VcService;
const work = mkdtempSync('/tmp/vlx-cli-vc-');
vi.setConfig({ testTimeout: 300_000, hookTimeout: 600_000 });

/** `vlx … --json` that must succeed: its parsed output. */
async function json<T>(args: string[]): Promise<T> {
  const r = await vlx([...args, '--json']);
  if (r.code !== 0) throw new Error(`vlx ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

interface Status {
  state: string;
  vms: { name: string; node?: string; state: string; address: string }[];
  actual: Record<string, string[]>;
  drift: string[];
}
const status = () => json<Status>(['vc', 'status', VC]);
const nodesOf = (st: Status) => st.vms.map((v) => v.node ?? null);

beforeAll(async () => {
  await ensureVcLab();
  s = vcService();
  const r = await vlx(['vc', 'create', VC, '--nodes', '2', '--vcpus', '1', '--mem-mb', '128', '--disk-gb', '1', '--image', 'tiny']);
  if (r.code !== 0) throw new Error(`vlx vc create: ${r.stderr}`);
});
afterAll(async () => {
  rmSync(work, { recursive: true, force: true });
  try {
    await cleanUpTestVcs(s);
  } finally {
    await s?.close();
  }
});

describe('a VC through the CLI', () => {
  test('vc start, then vc status and vc volumes say what runs where', async () => {
    const start = await vlx(['vc', 'start', VC, '--policy', 'cyclic', '--mode', 'strict']);
    expect(start.code, start.stderr).toBe(0);
    const st = await status();
    expect(st.state).toBe('running');
    expect(nodesOf(st)).toEqual(['n1', 'n2']);
    expect(st.actual).toEqual({ vm1: ['n1'], vm2: ['n2'] });
    expect(st.drift).toEqual([]);
    const text = await vlx(['vc', 'status', VC]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/vm1\s.*n1/);
    expect(text.stdout).toMatch(/vm2\s.*n2/);

    const tree = await json<{ path: string; children: { path: string; usedBy?: string }[] }[]>(['vc', 'volumes']);
    const img = tree.find((t) => t.path.endsWith('/images/tiny.qcow2'));
    expect(img?.children.filter((c) => c.usedBy?.startsWith(`${VC}/`)).map((c) => c.usedBy).sort()).toEqual([`${VC}/vm1`, `${VC}/vm2`]);
  });

  test('vm move --dry-run says what it would do and does nothing; vm move live-migrates', async () => {
    const dry = await vlx(['vm', 'move', `${VC}/vm2`, '--to', 'n3', '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(`${dry.stdout}${dry.stderr}`).toMatch(/migrat/i);
    expect((await status()).actual).toEqual({ vm1: ['n1'], vm2: ['n2'] });

    const boot = (await guestRun(s, VC, 'vm2', 'cat /proc/sys/kernel/random/boot_id')).output.trim().split('\n').pop();
    const r = await vlx(['vm', 'move', `${VC}/vm2`, '--to', 'n3']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`${VC}/vm2: live-migrated to n3`);
    const st = await status();
    expect(st.actual).toEqual({ vm1: ['n1'], vm2: ['n3'] });
    expect(st.drift).toEqual([]);
    expect((await guestRun(s, VC, 'vm2', 'cat /proc/sys/kernel/random/boot_id')).output.trim().split('\n').pop()).toBe(boot);
  });

  test('vc save; a saved VM moved to another node comes back there with its memory; vc restore', async () => {
    for (const vm of ['vm1', 'vm2']) expect((await guestRun(s, VC, vm, `echo kept-${vm} > /tmp/mark`)).code).toBe(0);
    const save = await vlx(['vc', 'save', VC]);
    expect(save.code, save.stderr).toBe(0);
    const saved = await status();
    expect(saved.state).toBe('saved');
    expect(saved.actual).toEqual({});
    expect((await onNode('n4', `ls /srv/virtualinux/vc/${VC}/`)).stdout).toMatch(/vm1\.state[\s\S]*vm2\.state/);

    // Relocation: a saved VM re-mapped to a node it never ran on.
    const move = await vlx(['vm', 'move', `${VC}/vm2`, '--to', 'n4', '--json']);
    expect(move.code, move.stderr).toBe(0);
    expect(JSON.parse(move.stdout)).toMatchObject([{ vc: VC, vm: 'vm2', ok: true, action: 'relocate' }]);
    const moved = await status();
    expect(moved.vms.find((v) => v.name === 'vm2')?.node).toBe('n4');
    expect(moved.actual.vm2 ?? []).toEqual(moved.vms.find((v) => v.name === 'vm2')?.state === 'running' ? ['n4'] : []);

    const restore = await vlx(['vc', 'restore', VC]);
    expect(restore.code, restore.stderr).toBe(0);
    const back = await status();
    expect(back.state).toBe('running');
    expect(back.actual).toEqual({ vm1: ['n1'], vm2: ['n4'] });
    expect(back.drift).toEqual([]);
    for (const vm of ['vm1', 'vm2']) expect((await guestRun(s, VC, vm, 'cat /tmp/mark')).output).toContain(`kept-${vm}`);
    // Still one network: vm1 on n1 reaches vm2 on n4.
    const vm2 = back.vms.find((v) => v.name === 'vm2')!.address;
    expect((await guestRun(s, VC, 'vm1', `ping -c 3 -W 2 ${vm2} >/dev/null`, 60_000)).code).toBe(0);
  });

  test('vc stop: every QEMU goes; tasks and tasks show tell the story', async () => {
    const stop = await vlx(['vc', 'stop', VC, '--timeout', '20']);
    expect(stop.code, stop.stderr).toBe(0);
    const st = await status();
    expect(st.state).toBe('stopped');
    expect(st.actual).toEqual({});
    const ps = await onNode('n1', `for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline 2>/dev/null | grep -q -- '/vm/''${VC}/' && echo "$p"; done; true`);
    expect(ps.stdout.trim()).toBe('');

    const tasks = await json<{ id: string; kind: string; target: string; state: string }[]>(['tasks', '--all']);
    const ours = tasks.filter((t) => t.target === VC || t.target.startsWith(`${VC}/`));
    for (const kind of ['vc.create', 'vc.start', 'vm.move', 'vc.save', 'vc.restore', 'vc.stop']) {
      expect(ours.find((t) => t.kind === kind)?.state, kind).toBe('succeeded');
    }
    const stopTask = ours.find((t) => t.kind === 'vc.stop')!;
    const shown = await vlx(['tasks', 'show', stopTask.id.slice(0, 8)]);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain(stopTask.id);
    expect(shown.stdout).toContain('succeeded');
    const detail = await json<{ task: { id: string; steps: { name: string; state: string }[] }; log: { line: string }[] }>(['tasks', 'show', stopTask.id]);
    expect(detail.task.id).toBe(stopTask.id);
    expect(detail.task.steps.length).toBeGreaterThan(0);
    expect(detail.task.steps.every((x) => x.state === 'done')).toBe(true);
    expect(detail.log.length).toBeGreaterThan(0);
    const unknown = await vlx(['tasks', 'show', 'ffffffff-no-such']);
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toMatch(/vlx: error: /);
  });
});

describe('the cluster around it, through the CLI', () => {
  test('db status: the lab database on its members, the app on the primary, every migration applied', async () => {
    const db = await json<{ endpoint: { node: string; host: string }; reachable: boolean; primary?: string; members?: { node: string; role: string }[]; migrations: { applied: string[]; pending: string[] } }>(['db', 'status']);
    // The lab's members are n1..n3; which one is primary is Patroni's choice (earlier files fail it over).
    expect(db.members?.map((m) => m.node).sort()).toEqual(['n1', 'n2', 'n3']);
    expect(db.primary).toBeDefined();
    expect(db.members?.filter((m) => m.role === 'primary').map((m) => m.node)).toEqual([db.primary]);
    expect(db.endpoint).toMatchObject({ node: db.primary, host: nodeAddr(db.primary!) });
    expect(db.reachable).toBe(true);
    expect(db.migrations.pending).toEqual([]);
    expect(db.migrations.applied).toEqual(expect.arrayContaining(MIGRATIONS.map((m) => m.name)));
    const text = await vlx(['db', 'status']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/reachable:\s+yes/);
  });

  test('services status: per node what runs, agreeing with the pids on the node', async () => {
    const st = await json<{ nodes: { node: string; reachable: boolean; services: { service: string; state: string; pid?: number }[] }[] }>(['services', 'status']);
    expect(st.nodes.map((n) => n.node)).toEqual(['n1', 'n2', 'n3', 'n4']);
    for (const n of st.nodes.filter((x) => x.reachable)) {
      for (const svc of n.services.filter((x) => x.state === 'running')) {
        // The pid it reports is alive and is that service.
        const r = await onNode(n.node, `tr '\\0' ' ' < /proc/${svc.pid}/cmdline`);
        expect(r.stdout, `${n.node} ${svc.service} pid ${svc.pid}`).toContain(svc.service);
      }
    }
    const text = await vlx(['services', 'status']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^NODE\s+ADDRESS/m);
  });

  test('image import makes a standalone qcow2 a template; image info shows it; bad files are refused', async () => {
    const file = join(work, 'cloud.qcow2');
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', file, '64M']);
    const imp = await vlx(['image', 'import', file, '--name', IMAGE]);
    expect(imp.code, imp.stderr).toBe(0);
    const info = await json<{ name: string; format: string; virtualBytes: number; path: string; usedBy: unknown[] }>(['image', 'info', IMAGE]);
    expect(info).toMatchObject({ name: IMAGE, format: 'qcow2', virtualBytes: 64 * 1024 * 1024, usedBy: [] });
    expect((await onNode('n3', `qemu-img info --output=json ${info.path}`)).stdout).toContain('"virtual-size": 67108864');
    const text = await vlx(['image', 'info', 'tiny']);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^tiny\s+kernel\s+busybox/m);

    const raw = join(work, 'disk.raw');
    writeFileSync(raw, 'not an image');
    const bad = await vlx(['image', 'import', raw, '--name', testVc('bad')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('vlx: error: FILE: must be a qcow2 image (got raw)');
    const missing = await vlx(['image', 'info', 'no-such-image']);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/no-such-image/);
  });
});
