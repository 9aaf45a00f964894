import { describe, expect, it } from 'vitest';
import type { ExperimentRow, ExperimentRunInfo } from '../../main/api/contract.js';
import { logTickLabel, networkCharts, osOverheadCharts, sizeLabel, storageCharts } from '../../renderer/src/screens/experimentCharts.js';

const run = (id: number, kind: ExperimentRunInfo['kind']): ExperimentRunInfo => ({
  id, taskId: null, kind, vc: 'bench', vcSize: 2, placement: { vm1: 'n1', vm2: 'n2' }, accel: 'tcg', image: 'tiny-bench', seconds: 1, startedAt: '2026-11-30T16:00:00Z', values: 0,
});
const row = (runId: number, kind: ExperimentRow['kind'], probe: string, target: string, param: string, value: number, unit: string): ExperimentRow => ({
  runId, kind, probe, target, param, value, unit, vc: 'bench', vcSize: 2, placement: 'vm1@n1 vm2@n2', accel: 'tcg', image: 'tiny-bench', date: '2026-11-30T16:00:00Z',
});

describe('Experiments charts from stored rows', () => {
  it('os-overhead: a group per probe, node and VM bars per run, values where they belong, the chart\'s rows for its CSV', () => {
    const rows = { 1: [row(1, 'os-overhead', 'cpu', 'node', '', 2000, 'events/s'), row(1, 'os-overhead', 'cpu', 'vm', '', 100, 'events/s'), row(1, 'os-overhead', 'memory', 'node', '', 5000, 'MiB/s')],
      2: [row(2, 'os-overhead', 'cpu', 'vm', '', 150, 'events/s')] };
    const [c] = osOverheadCharts([run(1, 'os-overhead'), run(2, 'os-overhead')], rows);
    expect(c!.config.data.labels).toEqual(['cpu', 'memory']);
    const ds = c!.config.data.datasets;
    expect(ds.map((d) => d.label!.split(' — ')[0])).toEqual(['node', 'vm', 'node', 'vm']);
    expect(ds.map((d) => d.data)).toEqual([[2000, 5000], [100, null], [null, null], [150, null]]);
    expect(c!.rows).toHaveLength(4);
  });

  it('network: bandwidth curves ordered by message size, one per run and pair; latency bars per pair', () => {
    const rows = { 3: [
      row(3, 'network', 'bandwidth', 'node-node', '65536', 9000, 'Mbit/s'), row(3, 'network', 'bandwidth', 'node-node', '1024', 1800, 'Mbit/s'),
      row(3, 'network', 'bandwidth', 'vm-vm across nodes', '1024', 300, 'Mbit/s'), row(3, 'network', 'latency', 'node-node', '', 0.09, 'ms'),
    ] };
    const [bw, lat] = networkCharts([run(3, 'network')], rows);
    expect(bw!.config.data.labels).toEqual(['1 KiB', '64 KiB']);
    expect(bw!.config.data.datasets.map((d) => [d.label!.split(' — ')[0], d.data])).toEqual([['node-node', [1800, 9000]], ['vm-vm across nodes', [300, null]]]);
    expect(bw!.rows.every((r) => r.probe === 'bandwidth')).toBe(true);
    expect(lat!.config.data.labels).toEqual(['node-node']);
    expect(lat!.rows.map((r) => r.value)).toEqual([0.09]);
  });

  it('storage: the three targets side by side, MiB/s', () => {
    const rows = { 4: [row(4, 'storage', 'seqwr', 'vm overlay', '', 50, 'MiB/s'), row(4, 'storage', 'seqwr', 'node raw', '', 200, 'MiB/s')] };
    const [c] = storageCharts([run(4, 'storage')], rows);
    expect(c!.config.data.datasets.map((d) => d.data)).toEqual([[50], [null], [200]]);
  });

  it('labels message sizes in binary units', () => {
    expect(['1024', '8192', '131072', '512', '2097152'].map(sizeLabel)).toEqual(['1 KiB', '8 KiB', '128 KiB', '512 B', '2 MiB']);
  });
});

describe('log axis labels of the mpi charts', () => {
  it('an axis within two decades is labelled at 1, 2 and 5 times powers of ten; a wider one at powers of ten only', () => {
    const labels = (min: number, max: number, ticks: number[]): string[] => ticks.map((t) => logTickLabel(t, min, max));
    expect(labels(200, 3000, [200, 300, 500, 1000, 2000, 3000])).toEqual(['200', '', '500', '1,000', '2,000', '']);
    expect(labels(0.005, 100, [0.005, 0.01, 0.02, 0.05, 1, 50, 100])).toEqual(['', '0.01', '', '', '1', '', '100']);
    expect(logTickLabel(0, 1, 10)).toBe('');
    expect(logTickLabel(7, 1, 10)).toBe('');
  });
});
