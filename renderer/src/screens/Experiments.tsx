import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import type { Chart } from 'chart.js';
import { EXPERIMENT_KINDS, EXPERIMENT_SECONDS, experimentsCsv, ratios, type ExperimentRow, type ExperimentRunInfo } from '../../../main/api/contract.js';
import { useExperiments, type ExperimentKind } from '../stores/experiments.js';
import { Empty, ErrorState, Field, InlineError, Loading } from '../components/common.js';
import { TaskProgress } from '../components/TaskProgress.js';
import { ChartCanvas, download } from '../components/Chart.js';
import { mpiCharts, networkCharts, osOverheadCharts, runLabel, storageCharts, type ChartSpec } from './experimentCharts.js';

const KIND_TEXT: Record<ExperimentKind, { title: string; about: string }> = {
  'os-overhead': { title: 'OS overhead', about: 'sysbench CPU, memory and threads, raw system calls and context switches, on the node and in a VM with the same binary; the VM’s share of the node.' },
  network: { title: 'Network', about: 'ping round-trip time and iperf3 bandwidth by message size: VM↔VM on one node and across nodes, node↔node, VM↔outside through the gateway.' },
  mpi: { title: 'MPI', about: 'Open MPI across every VM of the VC, one rank per VM: ping-pong latency and bandwidth between two VMs across nodes (and on one node when the placement has such a pair), and allreduce over all VMs, by message size (IMB-style curves).' },
  storage: { title: 'Storage', about: 'sysbench fileio with direct I/O: on a VM’s overlay disk, on the VC’s shared directory, and raw on the node’s shared storage; the overlay’s share of raw (the report quotes about 75% for its iSCSI path).' },
};

export function ExperimentsScreen() {
  const { runs, error, loading, load } = useExperiments();
  useEffect(() => { void load(); }, [load]);
  return (
    <div className="screen">
      <header className="screen-head row-between">
        <div>
          <h1>Experiments</h1>
          <p className="lead">The report’s measurements, on your cluster: run one on a running VC of the bench image, compare runs on one chart.</p>
        </div>
        <div className="toolbar"><button className="btn" onClick={() => void load()} disabled={loading}>Refresh</button></div>
      </header>
      <RunCard />
      {error && !runs ? <ErrorState error={error} what="experiments" onRetry={load} />
        : !runs ? <Loading what="experiments" />
        : runs.length === 0 ? <Empty title="No experiments yet">Run one above on a running VC made from the tiny-bench image.</Empty>
        : EXPERIMENT_KINDS.map((k) => <KindSection key={k} kind={k} runs={runs.filter((r) => r.kind === k)} />)}
    </div>
  );
}

function RunCard() {
  const { vcs, run, actionError, tasks } = useExperiments();
  const running = vcs.filter((v) => v.state === 'running');
  const [kind, setKind] = useState<ExperimentKind>('os-overhead');
  const [vc, setVc] = useState('');
  const [seconds, setSeconds] = useState(String(EXPERIMENT_SECONDS.default));
  const [outside, setOutside] = useState('');
  const n = Number(seconds);
  const secondsError = /^\d+$/.test(seconds) && n >= EXPERIMENT_SECONDS.min && n <= EXPERIMENT_SECONDS.max ? undefined : `must be a whole number from ${EXPERIMENT_SECONDS.min} to ${EXPERIMENT_SECONDS.max}`;
  const chosen = vc || running[0]?.name || '';
  return (
    <section className="card" aria-labelledby="exp-run-h">
      <h2 id="exp-run-h">Run an experiment</h2>
      <div className="exp-form">
        <Field label="Kind" id="exp-kind">
          <select id="exp-kind" value={kind} onChange={(e) => setKind(e.target.value as ExperimentKind)}>
            {EXPERIMENT_KINDS.map((k) => <option key={k} value={k}>{KIND_TEXT[k].title}</option>)}
          </select>
        </Field>
        <Field label="Virtual cluster" id="exp-vc" {...(running.length === 0 ? { hint: 'no VC is running' } : {})}>
          <select id="exp-vc" value={chosen} onChange={(e) => setVc(e.target.value)} disabled={running.length === 0}>
            {running.map((v) => <option key={v.name} value={v.name}>{v.name} ({v.vms.length} VMs, {v.image})</option>)}
          </select>
        </Field>
        <Field label="Seconds per probe" id="exp-seconds" {...(secondsError ? { error: secondsError } : {})}>
          <input id="exp-seconds" value={seconds} onChange={(e) => setSeconds(e.target.value.trim())} inputMode="numeric" size={5} />
        </Field>
        {kind === 'network' && (
          <Field label="Outside address" id="exp-outside" hint="optional: a host past the gateway">
            <input id="exp-outside" value={outside} onChange={(e) => setOutside(e.target.value.trim())} placeholder="203.0.113.1" size={16} />
          </Field>
        )}
        <button className="btn primary" disabled={!chosen || Boolean(secondsError)}
          onClick={() => void run({ kind, vc: chosen, seconds: n, ...(kind === 'network' && outside ? { outside } : {}) })}>Run</button>
      </div>
      <p className="muted small">{KIND_TEXT[kind].about}</p>
      <InlineError error={actionError} />
      {tasks.slice(0, 3).map((t) => <div key={t.taskId} className="task-block"><div className="small"><strong>{t.what}</strong></div><TaskProgress taskId={t.taskId} label={t.what} /></div>)}
    </section>
  );
}

function KindSection({ kind, runs }: { kind: ExperimentKind; runs: ExperimentRunInfo[] }) {
  const { shown, rows, toggle } = useExperiments();
  const picked = runs.filter((r) => shown[kind].includes(r.id));
  const charts = useMemo<ChartSpec[]>(() => {
    if (picked.length === 0) return [];
    const chartsOf = { 'os-overhead': osOverheadCharts, storage: storageCharts, network: networkCharts, mpi: mpiCharts }[kind];
    return chartsOf(picked, rows);
  }, [kind, picked.map((r) => r.id).join(','), rows]); // eslint-disable-line react-hooks/exhaustive-deps
  const tcg = picked.some((r) => r.accel === 'tcg');
  return (
    <section className="card exp-kind" aria-labelledby={`exp-${kind}-h`} data-kind={kind}>
      <h2 id={`exp-${kind}-h`}>{KIND_TEXT[kind].title}</h2>
      <p className="muted small">{KIND_TEXT[kind].about}</p>
      {runs.length === 0 ? <p className="muted">No run of this kind yet.</p> : (
        <>
          <fieldset className="exp-runs">
            <legend className="small">Runs on the charts</legend>
            {runs.slice(0, 12).map((r) => (
              <label key={r.id} className="exp-run">
                <input type="checkbox" checked={shown[kind].includes(r.id)} onChange={() => void toggle(kind, r.id)} data-run={r.id} /> {runLabel(r)} · {r.image}
              </label>
            ))}
          </fieldset>
          {tcg && <div className="notice warn" role="status" data-testid="tcg-banner"><strong>Software emulation (TCG):</strong> absolute numbers are not representative. Compare runs with each other, not with real hardware.</div>}
          {charts.map((c) => <ChartCard key={c.id} spec={c} />)}
          {(kind === 'os-overhead' || kind === 'storage') && picked.length > 0 && <RatioTable kind={kind} runs={picked} rows={rows} />}
        </>
      )}
    </section>
  );
}

function ChartCard({ spec }: { spec: ChartSpec }) {
  const chart = useRef<Chart | undefined>(undefined);
  const onReady = useCallback((c: Chart | undefined) => { chart.current = c; }, []);
  return (
    <figure className="exp-chart" data-chart={spec.id}>
      <ChartCanvas config={spec.config} label={spec.title} onReady={onReady} />
      <figcaption className="toolbar">
        <span className="muted small">{spec.rows.length} values</span>
        <button className="btn small" data-export="csv" onClick={() => download(`${spec.id}.csv`, experimentsCsv(spec.rows))}>CSV</button>
        <button className="btn small" data-export="png" onClick={() => chart.current && download(`${spec.id}.png`, chart.current.toBase64Image('image/png', 1))}>PNG</button>
      </figcaption>
    </figure>
  );
}

/** os-overhead: VM / node; storage: VM overlay / node raw. The ratio the report reads off its tables. */
function RatioTable({ kind, runs, rows }: { kind: ExperimentKind; runs: ExperimentRunInfo[]; rows: Record<number, ExperimentRow[]> }) {
  const [over, under] = kind === 'os-overhead' ? ['vm', 'node'] : ['vm overlay', 'node raw'];
  const per = runs.map((r) => ({ run: r, ratios: ratios(rows[r.id] ?? [], over!, under!) }));
  const probes = [...new Set(per.flatMap((p) => p.ratios.map((x) => x.probe)))];
  return (
    <table className="table exp-ratios" aria-label={`${over} / ${under}`}>
      <thead><tr><th>{over} / {under}</th>{probes.map((p) => <th key={p} className="num">{p}</th>)}</tr></thead>
      <tbody>
        {per.map(({ run, ratios: rs }) => (
          <tr key={run.id}>
            <td>{runLabel(run)}</td>
            {probes.map((p) => { const v = rs.find((x) => x.probe === p); return <td key={p} className="num mono">{v ? `${(v.ratio * 100).toFixed(1)}%` : '—'}</td>; })}
          </tr>
        ))}
      </tbody>
    </table>
  );
}
