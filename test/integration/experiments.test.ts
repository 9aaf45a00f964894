import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';
import { cleanUpTestVcs, ensureVcLab, expectOk, guestRun, testVc, vcService, vlx } from './vc-support.js';
import type { VcService } from '../../main/service/vcCore.js';
import { getCluster } from '../../main/config/clusters.js';
import { openCluster } from '../../main/ssh/session.js';
import { buildBench } from '../../main/images/bench.js';
import { publishImage } from '../../main/images/library.js';
import { OUTSIDE_ADDRESS } from '../../main/lab/outside.js';
import { CSV_COLUMNS, MESSAGE_SIZES, experimentsCsv, type ExperimentRow } from '../../main/domain/experiments.js';
import { MPI_ALLREDUCE_SIZES, MPI_SIZES } from '../../main/domain/experimentMpi.js';
import { runRows } from '../../main/cluster/experimentsRepo.js';
import { migrate } from '../../main/db/migrate.js';

/**
 * The report's experiments, each kind once, on one 2-VM VC of the bench image placed across
 * two nodes, with every probe cut to 1 s: the values land in the cluster database with their
 * units and the run's facts, all positive. Run through the CLI, as a person runs them; the
 * times each run took are printed for the closing note.
 */
let s: VcService;
const VC = testVc('bench');
vi.setConfig({ testTimeout: 240_000, hookTimeout: 600_000 });

beforeAll(async () => {
  await ensureVcLab();
  const session = openCluster(getCluster('lab'));
  try {
    const built = await buildBench();
    const r = await publishImage(await session.any(), { meta: built.meta, files: built.files });
    console.log(`tiny-bench: ${built.rebuilt ? 'built' : 'cached'}, ${r.status} on shared storage`);
  } finally {
    await session.close();
  }
  s = vcService();
  // A lab brought up before migration 007 existed gets it here (what `vlx db migrate` does).
  await migrate(s.env.db);
  expectOk(await s.createVc({ name: VC, nodes: 2, vcpus: 1, memMb: 256, diskGb: 1, swapMb: 0, image: 'tiny-bench', subnet: 'auto' }));
  expectOk(await s.startVc(VC, 'cyclic', 'free'));
});
afterAll(async () => {
  try {
    await cleanUpTestVcs(s);
  } finally {
    await s?.close();
  }
});

/** Run one kind through the CLI; answer its stored rows. */
async function runKind(kind: string, extra: string[] = []): Promise<{ rows: ExperimentRow[]; stdout: string; stderr: string }> {
  const t0 = Date.now();
  const r = await vlx(['experiment', 'run', kind, '--vc', VC, '--seconds', '1', ...extra]);
  console.log(`experiment ${kind}: ${((Date.now() - t0) / 1000).toFixed(1)} s (exit ${r.code})\n${r.stdout}`);
  expect(r.code, r.stderr).toBe(0);
  const list = JSON.parse((await vlx(['experiment', 'list', '--kind', kind, '--json'])).stdout) as { id: number; vc: string; vcSize: number; image: string; accel: string; placement: Record<string, string> }[];
  const run = list.find((x) => x.vc === VC)!;
  expect(run).toMatchObject({ vcSize: 2, image: 'tiny-bench' });
  expect(['kvm', 'tcg']).toContain(run.accel);
  expect(new Set(Object.values(run.placement)).size).toBe(2);
  const rows = await runRows(s.env.db, [run.id]);
  for (const row of rows) expect(row.value, `${row.probe} ${row.target} ${row.param}`).toBeGreaterThan(0);
  return { rows, ...r };
}

const keys = (rows: ExperimentRow[]): string[] => rows.map((r) => `${r.probe}|${r.target}|${r.param}|${r.unit}`).sort();

describe('experiments on a 2-VM bench VC', () => {
  test('os-overhead: sysbench cpu, memory, threads and the syscall and context-switch probes on the node and in the VM, with the ratio', async () => {
    const { rows, stdout } = await runKind('os-overhead');
    const want = [['cpu', 'events/s'], ['memory', 'MiB/s'], ['threads', 'events/s'], ['syscall', 'syscalls/s'], ['context-switch', 'switches/s']].flatMap(([p, u]) => ['node', 'vm'].map((t) => `${p}|${t}||${u}`));
    expect(keys(rows)).toEqual(want.sort());
    expect(stdout).toMatch(/vm \/ node:\n(\s+[\w-]+\s+[\d.]+%\n){5}$/);
    expect(stdout).toMatch(/\n\s+cpu\s+[\d.]+%\n/);
  });

  test('network: latency and bandwidth by message size, VM↔VM across nodes and node↔node', async () => {
    const { rows, stdout } = await runKind('network', ['--outside', OUTSIDE_ADDRESS]);
    for (const pair of ['vm-vm across nodes', 'node-node']) {
      expect(rows.filter((r) => r.target === pair).map((r) => `${r.probe}|${r.param}|${r.unit}`)).toEqual(
        ['bandwidth|1024|Mbit/s', ...MESSAGE_SIZES.slice(1).map((l) => `bandwidth|${l}|Mbit/s`), 'latency||ms'].sort((a, b) => a.localeCompare(b, 'en', { numeric: true })),
      );
    }
    // The placement is cyclic: no two VMs share a node, so that pair is absent, not invented.
    expect(rows.some((r) => r.target === 'vm-vm same node')).toBe(false);
    // The outside answers only where the gateway is deployed; either its latency is stored or the run says why not.
    const outside = rows.filter((r) => r.target === 'vm-outside');
    console.log(`vm-outside: ${outside.length ? outside.map((r) => `${r.probe} ${r.value} ${r.unit}`).join(', ') : 'skipped (no gateway)'}`);
    if (outside.length) expect(outside.map((r) => r.unit)).toContain('ms');
    void stdout;
  });

  test('storage: sysbench fileio on the VM overlay, the VC shared directory and raw on the node; the CSV export is the rows', async () => {
    const { rows } = await runKind('storage');
    const modes = ['rndrd', 'rndwr', 'seqrd', 'seqwr'];
    expect(keys(rows)).toEqual(['node raw', 'vc shared', 'vm overlay'].flatMap((t) => modes.map((m) => `${m}|${t}||MiB/s`)).sort());
    const runId = rows[0]!.runId;
    const csv = (await vlx(['experiment', 'export', String(runId), '--csv'])).stdout;
    expect(csv).toBe(experimentsCsv(rows));
    expect(csv.split('\r\n')[0]).toBe(CSV_COLUMNS.join(','));
    expect(csv.trimEnd().split('\r\n')).toHaveLength(rows.length + 1);
  });

  test('mpi: Open MPI ping-pong across nodes and allreduce over both VMs, by message size; no server or key left in the guests', async () => {
    const { rows, stdout } = await runKind('mpi');
    const across = (probe: string, unit: string): string[] => MPI_SIZES.map((n) => `${probe}|across nodes|${n}|${unit}`);
    expect(keys(rows)).toEqual([
      ...across('pingpong bandwidth', 'MB/s'), ...across('pingpong latency', 'us'),
      ...MPI_ALLREDUCE_SIZES.map((n) => `allreduce|all 2 VMs|${n}|us`),
    ].sort());
    // Cyclic placement: no two VMs share a node, so no same-node pair is invented.
    expect(rows.some((r) => r.target === 'same node')).toBe(false);
    expect(stdout).toMatch(/pingpong latency\s+across nodes\s+1 B/);
    // The run's SSH server and keys are gone from every guest afterwards.
    for (const vm of ['vm1', 'vm2']) {
      const r = await guestRun(s, VC, vm, 'pidof dropbear; ls -A /root/.ssh /etc/dropbear /tmp | grep -c -e authorized -e dropbear_ -e vlx-mpi-key; true');
      expect(r.output.trim(), vm).toBe('0');
    }
  });

  test('bad input names the field and the rule, before anything runs', async () => {
    const bad = await vlx(['experiment', 'run', 'disk', '--vc', VC]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('KIND: must be one of os-overhead, network, storage, mpi');
    const secs = await vlx(['experiment', 'run', 'network', '--vc', VC, '--seconds', '0']);
    expect(secs.stderr).toContain('--seconds: must be a whole number from 1 to 600');
    const vc = await vlx(['experiment', 'run', 'network', '--vc', 'Nope!']);
    expect(vc.stderr).toMatch(/--vc: must be 1-24 chars/);
  });
});
