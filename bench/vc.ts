// `npm run bench -- vc`: the VC lifecycle on the current cluster (the lab), side by side:
//   create VCs of 1, 8, 32, 64 VMs (storage + DB, the whole task) against a full copy of a
//   1 GiB image per VM; the overlay batch alone against that 1 GiB image (its cost must not
//   depend on the image's size); start and stop of an 8-VM VC; save, restore and live
//   migration of one VM with QEMU's own total time and downtime.
// Full copies of 32 and 64 GiB are not made: the per-VM copy time measured on 8 copies is
// multiplied out and the row says so. Options: --sizes 1,8 (fewer rows), --skip-boot,
// --boot-only (only the starts, stop, save, restore and migration; each start cold, then warm), --image NAME (the guest of
// the boot rows; default tiny; a variant under test: `vlx image build tiny --name NAME`).
// Each boot row carries the 1-minute load average at its start: on 2 cores, other work
// changes it more than anything.
import { loadavg } from 'node:os';
import { sh } from '../main/util/quote.js';
import { VcService } from '../main/service/vcCore.js';
import { renderOverlayScript } from '../main/vm/scripts.js';
import { runScript } from '../main/cluster/env.js';
import { NODE_RUN } from '../main/config/paths.js';
import type { TaskEvent, TaskSummary } from '../main/tasks/types.js';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const sizes = (arg('--sizes') ?? '1,8,32,64').split(',').map(Number);
const skipBoot = process.argv.includes('--skip-boot');
const bootOnly = process.argv.includes('--boot-only');
const load = (): string => `load ${loadavg()[0].toFixed(2)}`;
const COPIES = 8;
const bootImage = arg('--image') ?? 'tiny';

const s = VcService.open();
const conn = await s.env.session.any();
const root = s.env.paths.root;
const benchDir = `${root}/bench`;
const bigImage = `${benchDir}/big-1g.qcow2`;

function ok(t: TaskSummary): TaskSummary {
  if (t.state !== 'succeeded') throw new Error(`${t.kind} ${t.target} ${t.state}: ${t.error?.step}: ${t.error?.message}`);
  return t;
}

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await fn();
  return { ms: performance.now() - t0, value };
}

async function destroyIfThere(name: string): Promise<void> {
  if ((await s.listVcs()).some((v) => v.name === name)) ok(await s.destroyVc(name));
}

/** User + system CPU seconds of every QEMU of a VC on every node, from /proc/PID/stat. */
async function qemuCpuSeconds(vc: string): Promise<{ total: number; count: number }> {
  const script = `for f in ${NODE_RUN}/vm/${vc}/*.pid; do [ -e "$f" ] && cut -d' ' -f14,15 "/proc/$(cat "$f")/stat"; done; getconf CLK_TCK`;
  let total = 0;
  let count = 0;
  for (const r of await s.env.session.onNodes('all', script)) {
    const lines = r.stdout.trim().split('\n');
    const tck = Number(lines.pop());
    for (const l of lines) {
      const [u, k] = l.split(' ').map(Number);
      total += (u + k) / tck;
      count += 1;
    }
  }
  return { total, count };
}

const rows: [string, string, string][] = [];
const row = (what: string, value: string, note = '') => {
  rows.push([what, value, note]);
  process.stderr.write(`  ${what}: ${value} ${note}\n`);
};
const fmt = (ms: number) => (ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${ms.toFixed(0)} ms`);

try {
  if (!bootOnly) {
    // A 1 GiB template with every byte allocated, so a full copy really moves 1 GiB.
    process.stderr.write('preparing a 1 GiB image…\n');
    await runScript(conn, [
      sh('mkdir', '-p', benchDir),
      `[ -e ${sh(bigImage)} ] || { ${sh('qemu-img', 'create', '-q', '-f', 'qcow2', `${bigImage}.tmp`, '2G')} && ` +
        `${sh('qemu-io', '-f', 'qcow2', '-c', 'write -P 0x5a 0 1G', `${bigImage}.tmp`)} > /dev/null && ${sh('mv', `${bigImage}.tmp`, bigImage)}; }`,
    ].join('\n') + '\n', 600_000);

    // Full copies: COPIES × 1 GiB, then the per-VM time multiplied out for the larger VCs.
    const copy = await timed(() => runScript(conn, [
      sh('rm', '-rf', `${benchDir}/copies`), sh('mkdir', '-p', `${benchDir}/copies`),
      `for i in $(seq 1 ${COPIES}); do ${sh('cp', bigImage)} ${sh(`${benchDir}/copies/`)}vm$i.qcow2; done`,
      'sync',
    ].join('\n') + '\n', 1_200_000));
    await conn.run(sh('rm', '-rf', `${benchDir}/copies`));
    const perCopy = copy.ms / COPIES;
    row(`full copy of a 1 GiB image × ${COPIES}`, fmt(copy.ms), `(${fmt(perCopy)} per VM)`);

    for (const n of sizes) {
      const name = `bench-${n}`;
      await destroyIfThere(name);
      const c = await timed(() => s.createVc({ name, nodes: n, vcpus: 1, memMb: 64, diskGb: 2, swapMb: 16, image: 'tiny', subnet: 'auto' }));
      ok(c.value);
      const full = perCopy * n;
      row(`create VC of ${n} VMs (storage + DB, whole task)`, fmt(c.ms),
        `vs full copies ${fmt(full)}${n > COPIES ? ' (extrapolated)' : ''}: ${(full / c.ms).toFixed(0)}x faster`);
      // The same overlay batch over the 1 GiB image: same cost as over the tiny one.
      const dir = `${benchDir}/ov-${n}`;
      const vms = Array.from({ length: n }, (_, i) => ({ name: `vm${i + 1}`, disk: `${dir}/vm${i + 1}.qcow2`, swap: `${dir}/vm${i + 1}.swap.qcow2` }));
      await conn.run(sh('rm', '-rf', dir));
      const ov = await timed(() => runScript(conn, renderOverlayScript({ vcDir: dir, shared: `${dir}/shared`, image: bigImage, diskGb: 2, swapMb: 16, vms })));
      row(`  overlays alone of ${n} VMs over the 1 GiB image (1 round trip)`, fmt(ov.ms));
      await conn.run(sh('rm', '-rf', dir));
      await destroyIfThere(name);
    }
  }

  if (!skipBoot) {
    const name = 'bench-boot';
    await destroyIfThere(name);
    ok(await s.createVc({ name, nodes: 8, vcpus: 1, memMb: 128, diskGb: 1, swapMb: 0, image: bootImage, subnet: 'auto' }));
    // Cold (every guest boots in full) against warm (every guest a copy of the image's booted
    // template, main/vm/warmStart.ts): first with the template still to build, then with it ready.
    await conn.run(`rm -f ${sh(s.env.paths.imagesDir)}/warm/${bootImage}.*.state`);
    const starts: Record<string, number> = {};
    for (const [label, boot] of [['cold: every guest boots in full', 'cold'], ['warm, first start: builds the template', 'warm'], ['warm: template ready', 'warm']] as const) {
      const startLoad = load();
      // The start's own log with times, on stderr: where the seconds go (placement, network, boots).
      const t0 = Date.now();
      const trace = (e: TaskEvent) => { if (e.type === 'log') process.stderr.write(`    +${Date.now() - t0} ms ${e.line}\n`); };
      const st = await timed(() => s.startVc(name, 'cyclic', 'free', { onEvent: trace }, boot));
      ok(st.value);
      starts[label] = st.ms;
      const vsCold = boot === 'warm' ? `, ${(starts['cold: every guest boots in full'] / st.ms).toFixed(1)}x faster than cold` : '';
      row(`start an 8-VM VC (${label}; every guest ready)`, fmt(st.ms), `(TCG where KVM does not work; ${startLoad}${vsCold})`);
      // The CPU the guests' QEMUs used up to now: launch, boot and the few ms since they were ready.
      const cpu = await qemuCpuSeconds(name);
      row('  CPU of its QEMUs (launch → ready)', `${cpu.total.toFixed(1)} s`, `(${(cpu.total / cpu.count).toFixed(2)} s per guest, ${cpu.count} guests)`);
      const sp = await timed(() => s.stopVc(name, { timeoutS: 30 }));
      ok(sp.value);
      row('  stop it (ACPI power button, clean shutdown)', fmt(sp.ms));
    }
    await destroyIfThere(name);

    const one = 'bench-one';
    await destroyIfThere(one);
    ok(await s.createVc({ name: one, nodes: 1, vcpus: 1, memMb: 128, diskGb: 1, swapMb: 0, image: bootImage, subnet: 'auto' }));
    for (const boot of ['cold', 'warm'] as const) {
      const oneLoad = load();
      const t1 = Date.now();
      const trace1 = (e: TaskEvent) => { if (e.type === 'log') process.stderr.write(`    +${Date.now() - t1} ms ${e.line}\n`); };
      const st1 = await timed(() => s.startVc(one, 'block', 'free', { onEvent: trace1 }, boot));
      ok(st1.value);
      row(`start a 1-VM VC (${boot}; placement, network, QEMU, guest ready)`, fmt(st1.ms), `(${oneLoad})`);
      row('  CPU of its QEMU (launch → ready)', `${(await qemuCpuSeconds(one)).total.toFixed(2)} s`);
      if (boot === 'cold') ok(await s.stopVc(one, { timeoutS: 30 }));
    }
    const logs: string[] = [];
    const onEvent = (e: TaskEvent) => { if (e.type === 'log') logs.push(e.line); };
    const sv = await timed(() => s.saveVc(one, { onEvent }));
    ok(sv.value);
    const saved = logs.find((l) => /state saved/.test(l)) ?? '';
    row('save one 128 MB VM (whole task)', fmt(sv.ms), `QMP: ${/\((.*)\)/.exec(saved)?.[1] ?? '?'}`);
    const rs = await timed(() => s.restoreVc(one, undefined, undefined, { onEvent }));
    ok(rs.value);
    row('restore it (whole task)', fmt(rs.ms));
    const from = (await s.vcStatus(one)).vms[0].node as string;
    const to = from === 'n1' ? 'n2' : 'n1';
    logs.length = 0;
    const mv = await timed(() => s.moveVms([{ vc: one, vm: 'vm1', to }], { onEvent }));
    if (!mv.value[0].ok) throw new Error(`move failed: ${mv.value[0].error?.message}`);
    const m = logs.map((l) => /in (\d+) ms, downtime (\d+) ms/.exec(l)).find(Boolean);
    row(`live-migrate it ${from} → ${to} (whole task)`, fmt(mv.ms), m ? `QMP total ${m[1]} ms, downtime ${m[2]} ms` : '');
    await destroyIfThere(one);
  }
} finally {
  await s.close();
}

const w = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i].length)));
process.stdout.write('\nVC benchmark\n');
for (const r of rows) process.stdout.write(`${r[0].padEnd(w[0])}  ${r[1].padStart(w[1])}  ${r[2]}\n`);
