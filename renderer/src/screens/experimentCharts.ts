import type { ChartConfiguration } from 'chart.js';
import type { ExperimentRow, ExperimentRunInfo } from '../../../main/api/contract.js';

/**
 * The charts of the Experiments screen as Chart.js configurations built from stored rows,
 * pure so a test holds them to the rows: the report's pictures, several runs on one chart.
 * Each chart also names the rows it shows, for its CSV export.
 */
export interface ChartSpec {
  id: string;
  title: string;
  config: ChartConfiguration;
  rows: ExperimentRow[];
}

/** Colour-blind-safe (Okabe–Ito), in a fixed order so a run keeps its colour across charts. */
const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#CC79A7', '#56B4E9', '#D55E00', '#F0E442', '#000000'];

export const runLabel = (r: ExperimentRunInfo): string =>
  `#${r.id} ${r.vc} · ${r.vcSize} VM${r.vcSize === 1 ? '' : 's'} · ${r.accel} · ${r.startedAt.slice(0, 16).replace('T', ' ')}`;

export function sizeLabel(bytes: string): string {
  const n = Number(bytes);
  return n >= 1048576 ? `${n / 1048576} MiB` : n >= 1024 ? `${n / 1024} KiB` : `${n} B`;
}

function color(i: number, alpha = 1): string {
  const hex = PALETTE[i % PALETTE.length]!;
  if (alpha === 1) return hex;
  const [r, g, b] = [1, 3, 5].map((o) => parseInt(hex.slice(o, o + 2), 16));
  return `rgba(${r}, ${g}, ${b}, ${alpha})`;
}

const uniq = <T,>(xs: T[]): T[] => [...new Set(xs)];

function axisTitle(text: string) {
  return { display: true, text };
}

/**
 * Bars side by side: one group per probe, one bar per run and target (targets of a run share
 * its colour, told apart by shade). log: values of very different sizes on one axis.
 */
function groupedBars(id: string, title: string, runs: ExperimentRunInfo[], rows: ExperimentRow[], targets: string[], unitOf: (probe: string) => string, log: boolean): ChartSpec {
  const probes = uniq(rows.map((r) => r.probe));
  const datasets = runs.flatMap((run, i) => targets.map((target, j) => ({
    label: `${target} — ${runLabel(run)}`,
    data: probes.map((p) => rows.find((r) => r.runId === run.id && r.probe === p && r.target === target)?.value ?? null),
    backgroundColor: color(i, 1 - j * (0.6 / Math.max(1, targets.length - 1))),
    borderColor: color(i),
    borderWidth: 1,
  })));
  const units = uniq(probes.map(unitOf));
  return {
    id, title, rows,
    config: {
      type: 'bar',
      data: { labels: probes, datasets },
      options: {
        plugins: { title: { display: true, text: title }, legend: { position: 'bottom' } },
        scales: { y: { type: log ? 'logarithmic' : 'linear', title: axisTitle(units.join(', ')) } },
      },
    },
  };
}

const rowsOf = (runs: ExperimentRunInfo[], byRun: Record<number, ExperimentRow[]>): ExperimentRow[] => runs.flatMap((r) => byRun[r.id] ?? []);

export function osOverheadCharts(runs: ExperimentRunInfo[], byRun: Record<number, ExperimentRow[]>): ChartSpec[] {
  const rows = rowsOf(runs, byRun);
  const unit = (p: string): string => rows.find((r) => r.probe === p)?.unit ?? '';
  return [groupedBars('os-overhead', 'Node and VM, side by side (log scale)', runs, rows, ['node', 'vm'], unit, true)];
}

export function storageCharts(runs: ExperimentRunInfo[], byRun: Record<number, ExperimentRow[]>): ChartSpec[] {
  const rows = rowsOf(runs, byRun);
  return [groupedBars('storage', 'Throughput: VM overlay, VC shared directory, node raw', runs, rows, ['vm overlay', 'vc shared', 'node raw'], () => 'MiB/s', false)];
}

export function networkCharts(runs: ExperimentRunInfo[], byRun: Record<number, ExperimentRow[]>): ChartSpec[] {
  const rows = rowsOf(runs, byRun);
  const bw = rows.filter((r) => r.probe === 'bandwidth');
  const sizes = uniq(bw.map((r) => r.param)).sort((a, b) => Number(a) - Number(b));
  const pairs = uniq(rows.map((r) => r.target));
  const curves = runs.flatMap((run, i) => pairs.filter((p) => bw.some((r) => r.runId === run.id && r.target === p)).map((pair, j) => ({
    label: `${pair} — ${runLabel(run)}`,
    data: sizes.map((s) => bw.find((r) => r.runId === run.id && r.target === pair && r.param === s)?.value ?? null),
    borderColor: color(i * pairs.length + j),
    backgroundColor: color(i * pairs.length + j),
    borderDash: i === 0 ? [] : [6, 3],
    tension: 0,
  })));
  const lat = rows.filter((r) => r.probe === 'latency');
  const latPairs = uniq(lat.map((r) => r.target));
  return [
    {
      id: 'network-bandwidth', title: 'Bandwidth by message size', rows: bw,
      config: {
        type: 'line',
        data: { labels: sizes.map(sizeLabel), datasets: curves },
        options: {
          plugins: { title: { display: true, text: 'Bandwidth by message size (iperf3 -l)' }, legend: { position: 'bottom' } },
          scales: { x: { title: axisTitle('message size') }, y: { type: 'logarithmic', title: axisTitle('Mbit/s') } },
        },
      },
    },
    {
      id: 'network-latency', title: 'Latency', rows: lat,
      config: {
        type: 'bar',
        data: {
          labels: latPairs,
          datasets: runs.map((run, i) => ({ label: runLabel(run), data: latPairs.map((p) => lat.find((r) => r.runId === run.id && r.target === p)?.value ?? null), backgroundColor: color(i) })),
        },
        options: {
          plugins: { title: { display: true, text: 'Round-trip time (ping, average)' }, legend: { position: 'bottom' } },
          scales: { y: { type: 'logarithmic', title: axisTitle('ms') } },
        },
      },
    },
  ];
}

/**
 * A log axis's label: at powers of ten when the axis spans several decades (values span up to
 * eight under TCG), and also at 2 and 5 times them when it spans less than two, so a curve
 * that stays within one decade still has numbers beside it.
 */
export function logTickLabel(value: number, min: number, max: number): string {
  if (!(value > 0)) return '';
  const mantissa = Math.round(value / 10 ** Math.floor(Math.log10(value) + 1e-9));
  const exact = Math.abs(value - mantissa * 10 ** Math.floor(Math.log10(value) + 1e-9)) < value * 1e-6;
  const decades = min > 0 && max > min ? Math.log10(max / min) : Infinity;
  const wanted = decades < 2 ? [1, 2, 5] : [1];
  return exact && wanted.includes(mantissa) ? value.toLocaleString('en') : '';
}

/**
 * The report's IMB-style curves: one chart per mpi probe, value by message size on log axes
 * (sizes go 1 B to 1 MiB in powers of 4), one curve per run and pair.
 */
export function mpiCharts(runs: ExperimentRunInfo[], byRun: Record<number, ExperimentRow[]>): ChartSpec[] {
  const rows = rowsOf(runs, byRun);
  const charts: [string, string, string][] = [
    ['mpi-latency', 'pingpong latency', 'Ping-pong latency by message size (half round trip)'],
    ['mpi-bandwidth', 'pingpong bandwidth', 'Ping-pong bandwidth by message size'],
    ['mpi-allreduce', 'allreduce', 'Allreduce (MPI_SUM of doubles) by message size, time per call'],
  ];
  return charts.map(([id, probe, title]) => {
    const mine = rows.filter((r) => r.probe === probe);
    const sizes = uniq(mine.map((r) => Number(r.param))).sort((a, b) => a - b);
    const targets = uniq(mine.map((r) => r.target)).sort();
    const curves = runs.flatMap((run, i) => targets.filter((t) => mine.some((r) => r.runId === run.id && r.target === t)).map((target, j) => ({
      label: `${target} — ${runLabel(run)}`,
      data: mine.filter((r) => r.runId === run.id && r.target === target).map((r) => ({ x: Number(r.param), y: r.value })).sort((a, b) => a.x - b.x),
      borderColor: color(i * targets.length + j),
      backgroundColor: color(i * targets.length + j),
      borderDash: i === 0 ? [] : [6, 3],
      tension: 0,
    })));
    const unit = mine[0]?.unit ?? '';
    return {
      id, title, rows: mine,
      config: {
        type: 'line',
        data: { datasets: curves },
        options: {
          plugins: { title: { display: true, text: title }, legend: { position: 'bottom' } },
          scales: {
            // Ticks at the measured sizes only (Chart.js would put them at 1-9 × 10^k, where no size is).
            x: {
              type: 'logarithmic', title: axisTitle('message size'), min: sizes[0], max: sizes.at(-1),
              afterBuildTicks: (axis) => { axis.ticks = sizes.map((value) => ({ value })); },
              ticks: { autoSkip: false, maxRotation: 0, callback: (v: number | string) => sizeLabel(String(v)) },
            },
            // Labels at powers of ten only: values span up to eight decades under TCG.
            y: {
              type: 'logarithmic', title: axisTitle(unit === 'us' ? 'µs' : unit),
              ticks: { callback(v: number | string) { return logTickLabel(Number(v), this.min, this.max); } },
            },
          },
        },
      },
    } satisfies ChartSpec;
  });
}
