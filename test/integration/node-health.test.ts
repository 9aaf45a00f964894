import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { cleanUpTestVcs, ensureVcLab, expectOk, guestRun, testVc, vcService, vlx } from './vc-support.js';
import type { VcService } from '../../main/service/vcCore.js';
import { createServices } from '../../main/service/index.js';
import { getCluster } from '../../main/config/clusters.js';
import { VETH_PREFIX } from '../../main/lab/layout.js';
import { LEASE_S, MARGIN_S } from '../../main/health/lease.js';
import type { NodeHealth, Output } from '../../main/api/contract.js';

/**
 * Node health and evacuation on the real lab, through the service layer as a face uses it
 * (a listener subscribed, so the health loop runs): a crashed node goes up → unreachable →
 * down within the lease; a node whose link alone is cut is unreachable and is not called down
 * before its lease and the margin have run out; a node with two running VMs is evacuated live
 * (same boot ids, the node in maintenance, placement skips it) and restored; --dry-run changes
 * nothing. The measured times are printed.
 */
vi.setConfig({ testTimeout: 600_000, hookTimeout: 600_000 });
const sh = promisify(execFile);
const VC = testVc('evac');
let s: VcService;
let services: ReturnType<typeof createServices>;
let off: () => void;
let dbNode: string;

beforeAll(async () => {
  process.env.VLX_CLUSTER = 'lab';
  await ensureVcLab();
  dbNode = getCluster('lab').db!.node;
  s = vcService();
  services = createServices({ face: 'test' });
  off = services.events.subscribe(() => undefined);
  // The lab's database may predate migration 003 (leases, admin states).
  await services.methods['db.migrate']({});
});
afterAll(async () => {
  off?.();
  try {
    // Whatever happened, no node stays held for the next test file.
    await s?.env.db.query(`update nodes set admin_state = 'active', evacuation = '{}' where admin_state <> 'active'`).catch(() => undefined);
    await cleanUpTestVcs(s);
  } finally {
    await services?.close();
    await s?.close();
  }
});

const health = async (): Promise<NodeHealth[]> => services.methods['nodes.health']({});
const stateOf = async (node: string) => (await health()).find((h) => h.name === node)!;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Sample one node's health until `until` holds or the deadline passes; every sample kept. */
async function follow(node: string, until: (h: NodeHealth) => boolean, deadlineMs: number): Promise<{ at: number; h: NodeHealth }[]> {
  const seen: { at: number; h: NodeHealth }[] = [];
  const end = Date.now() + deadlineMs;
  while (Date.now() < end) {
    const h = await stateOf(node);
    seen.push({ at: Date.now(), h });
    if (until(h)) return seen;
    await sleep(400);
  }
  throw new Error(`${node}: never reached the awaited state; seen: ${seen.map((x) => x.h.state).join(' ')}`);
}

async function waitTask(taskId: string): Promise<Output<'tasks.get'>['task']> {
  for (;;) {
    const t = (await services.methods['tasks.get']({ id: taskId })).task;
    if (t.state !== 'running') return t;
    await sleep(300);
  }
}

describe('evacuation', () => {
  test('a node with 2 running VMs is emptied live: same boots, the node in maintenance, placement skips it; restore brings them back', async () => {
    expectOk(await s.createVc({ name: VC, nodes: 2, vcpus: 1, memMb: 128, diskGb: 1, swapMb: 0, image: 'tiny', subnet: 'auto' }));
    expectOk(await s.startVc(VC, 'block', 'strict'));
    const placed = (await s.vcStatus(VC)).vms;
    const node = placed[0]!.node!;
    expect(placed.map((v) => v.node)).toEqual([node, node]);
    const boot = async (vm: string) => (await guestRun(s, VC, vm, 'cat /proc/sys/kernel/random/boot_id')).output.trim();
    const boots = [await boot('vm1'), await boot('vm2')];

    // The plan, and --dry-run, change nothing.
    const plan = await services.methods['node.evacuatePlan']({ node, mode: 'live', fallback: 'none' });
    expect(plan.steps.map((x) => [x.vm, x.action])).toEqual([['vm1', 'live'], ['vm2', 'live']]);
    expect(plan.steps.every((x) => x.to && x.to !== node)).toBe(true);
    const dry = await vlx(['node', 'evacuate', node, '--dry-run']);
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain(`Evacuating ${node} (mode live):`);
    expect(dry.stdout).toMatch(new RegExp(`${VC}/vm1\\s+live\\s+n\\d`));
    expect((await s.vcStatus(VC)).vms.map((v) => [v.node, v.state])).toEqual([[node, 'running'], [node, 'running']]);
    expect((await stateOf(node)).state).toBe('up');

    const t0 = Date.now();
    const { taskId } = await services.methods['node.evacuate']({ node, mode: 'live', fallback: 'none' });
    const during = await stateOf(node);
    const task = await waitTask(taskId);
    const totalMs = Date.now() - t0;
    expect(task.state, JSON.stringify(task.error)).toBe('succeeded');
    expect(task.steps.map((x) => x.name)).toEqual(['mark evacuating', `${VC}/vm1`, `${VC}/vm2`, 'maintenance']);
    expect(['evacuating', 'up']).toContain(during.state);

    const after = (await s.vcStatus(VC)).vms;
    expect(after.every((v) => v.node !== node && v.state === 'running')).toBe(true);
    expect([await boot('vm1'), await boot('vm2')]).toEqual(boots);
    // The loop's view follows within a tick.
    const h = (await follow(node, (x) => x.state === 'maintenance', 10_000)).pop()!.h;
    expect(h.evacuation?.moved?.map((m) => m.vm)).toEqual(['vm1', 'vm2']);
    const preview = await services.methods['vc.previewPlacement']({ name: testVc('probe'), nodes: 3, vcpus: 1, memMb: 128, policy: 'block', mode: 'strict' });
    expect(preview.mapping.map((m) => m.node)).not.toContain(node);

    const logs = await s.env.db.query<{ line: string }>(`select line from task_log where at >= to_timestamp($1 / 1000.0) and line like 'moved %downtime%'`, [t0]);
    const downtimes = logs.rows.map((r) => Number(/downtime (\d+) ms/.exec(r.line)?.[1]));
    console.log(`[measure] evacuation of ${node} with 2 VMs (live): total ${totalMs} ms; worst downtime ${Math.max(...downtimes)} ms (QMP; each: ${downtimes.join(', ')} ms)`);

    const back = await services.methods['node.restore']({ node });
    const rt = await waitTask(back.taskId);
    expect(rt.state, JSON.stringify(rt.error)).toBe('succeeded');
    expect((await s.vcStatus(VC)).vms.map((v) => v.node)).toEqual([node, node]);
    expect([await boot('vm1'), await boot('vm2')]).toEqual(boots);
    await follow(node, (x) => x.state === 'up', 10_000);
  });
});

describe('health', () => {
  // Not the database's node (the app needs it) and none of the test VC's.
  const victim = async () => {
    const busy = new Set((await s.vcStatus(VC).catch(() => ({ vms: [] as { node?: string | null }[] }))).vms.map((v) => v.node));
    return (await health()).map((h) => h.name).filter((n) => n !== dbNode && !busy.has(n)).pop()!;
  };

  test('a crashed node goes up → unreachable → down within the lease, and up again after revive', async () => {
    const node = await victim();
    await follow(node, (h) => h.state === 'up', 20_000);
    const crashed = Date.now();
    expect((await vlx(['lab', 'crash', node])).code).toBe(0);
    const seen = await follow(node, (h) => h.state === 'down', (LEASE_S + MARGIN_S + 15) * 1000);
    const states = seen.map((x) => x.h.state).filter((x, i, a) => a[i - 1] !== x);
    expect(states).toEqual(['up', 'unreachable', 'down'].slice(states[0] === 'up' ? 0 : 1));
    const firstLost = seen.find((x) => x.h.state === 'unreachable')!.at;
    const down = seen[seen.length - 1]!.at;
    expect(firstLost - crashed).toBeLessThan(5000);
    expect(down - crashed).toBeLessThan((LEASE_S + MARGIN_S + 5) * 1000);
    console.log(`[measure] crash of ${node}: unreachable after ${firstLost - crashed} ms, down after ${down - crashed} ms; detection (unreachable → down) ${down - firstLost} ms`);

    expect((await vlx(['lab', 'revive', node])).code).toBe(0);
    const revived = Date.now();
    await follow(node, (h) => h.state === 'up', 60_000);
    console.log(`[measure] revive of ${node}: up again after ${Date.now() - revived} ms`);
  });

  test('a node whose link alone is cut is unreachable, not down, until its lease and the margin have run out', async () => {
    const node = await victim();
    await follow(node, (h) => h.state === 'up', 30_000);
    const veth = `${VETH_PREFIX}${node.slice(1)}`;
    await sh('ip', ['link', 'set', veth, 'down']);
    try {
      const seen = await follow(node, (h) => h.state === 'down', (LEASE_S + MARGIN_S + 15) * 1000);
      const firstLost = seen.find((x) => x.h.state === 'unreachable')!;
      // The lease the app last renewed still vouches for the node: it stays unreachable that long.
      const earliestDown = firstLost.at + ((firstLost.h.leaseLeftS ?? 0) + MARGIN_S) * 1000;
      const down = seen[seen.length - 1]!.at;
      expect(down).toBeGreaterThanOrEqual(earliestDown - 1500);
      // Its processes never stopped: a partition, not a death.
      const pids = (await sh('ip', ['netns', 'pids', `vlx-${node}`])).stdout.trim().split('\n').filter(Boolean);
      expect(pids.length).toBeGreaterThan(0);
      console.log(`[measure] partition of ${node}: unreachable for ${down - firstLost.at} ms (lease left ${firstLost.h.leaseLeftS} s + margin ${MARGIN_S} s) before down`);
    } finally {
      await sh('ip', ['link', 'set', veth, 'up']);
    }
    await follow(node, (h) => h.state === 'up', 60_000);
  });
});
