// `npm run bench -- evacuate` on the running lab (`vlx lab up` first; root): a VC of 8 tiny
// VMs placed block/free (all on one node), then `vlx node evacuate NODE --mode live`, through
// the contract as the CLI calls it. Measured:
//   - the whole evacuation task, from the call to the node in maintenance with every VM moved;
//   - each guest's availability, sampled as the kill matrix does (every QEMU of the VC found in
//     /proc, its run state over its observers' QMP socket, every 100 ms): the longest stretch
//     in which no copy of a VM ran, worst over the VMs (resolution: the sampling interval);
//   - the downtime QEMU itself reports for each live migration, worst over the VMs;
//   - then `vlx node restore NODE`, which brings them back.
// Never two running copies of a VM at one sample: checked and reported. The 1-minute load
// average at the start is printed beside the figures. Options: --vms N (8), --keep.
import { loadavg } from 'node:os';
import { readdirSync } from 'node:fs';
import { VcService } from '../main/service/vcCore.js';
import { call, closeCli, runTask } from '../main/cli/client.js';
import { checkInt } from '../main/util/names.js';
import type { TaskSummary } from '../main/tasks/types.js';
import { QemuSampler } from '../test/integration/kill-support.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

// The contract's calls serve themselves in this process, against the lab.
process.env.VLX_CLUSTER ??= 'lab';
process.env.VLX_NO_AGENT = '1';

const count = checkInt(Number(arg('--vms') ?? 8), 'vms', 1, 64);
const keep = process.argv.includes('--keep');
const VC = 'bench-evac';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const fmt = (ms: number) => (ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${ms.toFixed(0)} ms`);

function ok(t: TaskSummary): TaskSummary {
  if (t.state !== 'succeeded') throw new Error(`${t.kind} ${t.target} ${t.state}: ${t.error?.step}: ${t.error?.message}`);
  return t;
}

/** The downtimes QEMU reported for the live moves that ran since an instant (their tasks' logs). */
async function reportedDowntimes(since: number): Promise<number[]> {
  const tasks = (await call('tasks.list', { limit: 200, all: true })).filter((t) => Date.parse(t.startedAt) >= since - 1000);
  const out: number[] = [];
  for (const t of tasks) {
    const { log } = await call('tasks.get', { id: t.id, logLines: 2000 });
    for (const l of log) {
      const m = /migrated .* downtime (\d+) ms/.exec(l.line);
      if (m) out.push(Number(m[1]));
    }
  }
  return out;
}

const labNodes = readdirSync('/run/netns').filter((n) => /^vlx-n\d+$/.test(n)).map((n) => n.slice(4)).sort();
const s = VcService.open('lab');
let sampler: QemuSampler | undefined;
let node = '';
const rows: [string, string][] = [];
const row = (what: string, value: string) => {
  rows.push([what, value]);
  process.stderr.write(`  ${what}: ${value}\n`);
};

try {
  if ((await s.listVcs()).some((v) => v.name === VC)) ok(await s.destroyVc(VC));
  // A node left in maintenance by an interrupted run takes VMs again.
  for (const n of labNodes) await call('node.setMaintenance', { node: n, on: false }).catch(() => undefined);
  ok(await s.createVc({ name: VC, nodes: count, vcpus: 1, memMb: 128, diskGb: 1, swapMb: 0, image: 'tiny', subnet: 'auto' }));
  ok(await s.startVc(VC, 'block', 'free'));
  const placed = (await s.vcStatus(VC)).vms;
  node = placed[0]!.node as string;
  if (placed.some((v) => v.node !== node)) throw new Error(`block/free spread the VC over ${[...new Set(placed.map((v) => v.node))].join(', ')}: not one node to evacuate`);
  process.stderr.write(`${count} VMs of ${VC} run on ${node}; evacuating it live\n`);

  const vms = placed.map((v) => v.name);
  sampler = new QemuSampler(VC, labNodes, 100);
  sampler.track(vms);
  sampler.start();
  while (!vms.every((vm) => sampler!.firstUp(vm, 0) !== undefined)) await sleep(100);

  const load = loadavg()[0]!;
  const t0 = Date.now();
  const ev = await runTask('node.evacuate', { node, mode: 'live', fallback: 'none' }, { json: true });
  const t1 = Date.now();
  ok(ev.task);
  await sampler.sample();
  const worst = Math.max(...vms.map((vm) => sampler!.longestDown(vm, t0, t1)));
  const after = (await s.vcStatus(VC)).vms;
  const left = after.filter((v) => v.node === node || v.state !== 'running');
  if (left.length) throw new Error(`after the evacuation: ${left.map((v) => `${v.name} ${v.state} on ${v.node}`).join(', ')}`);
  const qemuDown = await reportedDowntimes(t0);
  row(`evacuate ${node} live (${count} VMs → ${[...new Set(after.map((v) => v.node))].join(', ')}), whole task`, `${fmt(t1 - t0)}  (load ${load.toFixed(2)})`);
  // 0: every sample found a running copy of every VM, so each switch-over fell between two samples.
  row('  worst guest unavailability, sampled every 100 ms', worst === 0 ? 'under 100 ms (no sample without a running copy)' : fmt(worst));
  row(`  worst downtime QEMU reported (${qemuDown.length} migrations)`, qemuDown.length ? fmt(Math.max(...qemuDown)) : '?');
  row('  samples with two running copies of one VM', String(sampler.violations.length));

  const r0 = Date.now();
  const back = await runTask('node.restore', { node }, { json: true });
  ok(back.task);
  const home = (await s.vcStatus(VC)).vms.filter((v) => v.node === node && v.state === 'running').length;
  row(`restore ${node} (VMs brought back: ${home}/${count})`, `${fmt(Date.now() - r0)}  (load ${loadavg()[0]!.toFixed(2)})`);
  await sampler.sample();
  row('  samples with two running copies of one VM, in all', String(sampler.violations.length));
} finally {
  await sampler?.stop();
  if (!keep) {
    if (node) await call('node.setMaintenance', { node, on: false }).catch(() => undefined);
    if ((await s.listVcs()).some((v) => v.name === VC)) ok(await s.destroyVc(VC));
  }
  await s.close();
  await closeCli();
}

const w = Math.max(...rows.map((r) => r[0].length));
process.stdout.write(`\nEvacuation benchmark (${count} tiny VMs, TCG where KVM does not work)\n`);
for (const [what, value] of rows) process.stdout.write(`${what.padEnd(w)}  ${value}\n`);
process.exit(0);
