import { useEffect, useRef, useState } from 'react';
import { useExec } from '../stores/exec.js';
import { useTopology } from '../stores/topology.js';
import { failuresFirst, nodesOfSelection, outcome, summarize, toggleNode, walkHistory } from '../stores/exec.logic.js';
import { Badge, Empty, ErrorState, InlineError, Loading } from '../components/common.js';

const TONE = { ok: 'ok', failed: 'bad', unreachable: 'warn' } as const;

export function ExecScreen() {
  const nodes = useTopology((s) => s.nodes);
  const topoError = useTopology((s) => s.error);
  const load = useTopology((s) => s.load);
  const selection = useTopology((s) => s.selection);
  const hostOf = useTopology((s) => s.layout.chips);
  const { checked, picked, command, running, last, error, history, setChecked, setCommand, run } = useExec();
  const [at, setAt] = useState(-1);
  const [draft, setDraft] = useState('');
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => { void load(); }, [load]);
  const all = (nodes ?? []).map((n) => n.name);
  // Until the person picks, every node that is up is ticked.
  useEffect(() => {
    if (!picked && nodes) useExec.setState({ checked: nodes.filter((n) => n.state === 'up').map((n) => n.name) });
  }, [nodes, picked]);
  const fromSelection = nodesOfSelection(selection, (k) => hostOf.get(k)?.node, all);

  const onKey = (e: React.KeyboardEvent<HTMLInputElement>) => {
    if (e.key === 'Enter') { e.preventDefault(); setAt(-1); void run(all); return; }
    if (e.key === 'ArrowUp' || e.key === 'ArrowDown') {
      e.preventDefault();
      const w = walkHistory(history, at, e.key, at === -1 ? command : draft);
      if (at === -1) setDraft(command);
      setAt(w.at);
      setCommand(w.text);
    }
  };

  return (
    <div className="screen">
      <header className="screen-head">
        <h1>Run a command</h1>
        <p className="lead">One shell command on the chosen nodes at once, over their SSH connections; each node's output and exit code come back separately.</p>
      </header>
      {topoError && !nodes ? <ErrorState error={topoError} what="the nodes" onRetry={load} />
        : !nodes ? <Loading what="nodes" />
        : nodes.length === 0 ? <Empty title="No nodes">Connect to a cluster first.</Empty>
        : (
          <>
            <section className="card exec-form" aria-label="command">
              <fieldset className="node-picker">
                <legend>Nodes</legend>
                {nodes.map((n) => (
                  <label key={n.name} className={`node-check${n.state !== 'up' ? ' muted' : ''}`} title={n.state !== 'up' ? `${n.name} is ${n.state}: it will be reported as not reached` : n.address}>
                    <input type="checkbox" checked={checked.includes(n.name)} onChange={() => setChecked(toggleNode(checked, n.name, all))} data-node={n.name} />
                    <span className={`dot dot-${n.state}`} aria-hidden="true" />{n.name}
                  </label>
                ))}
                <span className="spacer" />
                <button className="btn small ghost" onClick={() => setChecked(all)}>All</button>
                <button className="btn small ghost" onClick={() => setChecked([])}>None</button>
                <button className="btn small ghost" disabled={fromSelection.length === 0} onClick={() => setChecked(fromSelection)}
                  title={fromSelection.length ? `The nodes running the ${selection.length} VM(s) selected in the topology` : 'Select VMs in the topology first'}>
                  From topology selection{fromSelection.length ? ` (${fromSelection.length})` : ''}
                </button>
              </fieldset>
              <div className="exec-line">
                <span className="exec-prompt mono" aria-hidden="true">$</span>
                <input ref={input} id="exec-command" className="mono" value={command} onChange={(e) => { setAt(-1); setCommand(e.target.value); }} onKeyDown={onKey}
                  placeholder="uname -r" aria-label="Command" autoComplete="off" spellCheck={false} disabled={running} />
                <button className="btn primary" onClick={() => void run(all)} disabled={running || checked.length === 0 || !command.trim()}>
                  {running ? 'Running…' : `Run on ${checked.length === all.length ? 'all' : checked.length} node${checked.length === 1 ? '' : 's'}`}
                </button>
              </div>
              <div className="muted small">Enter runs it; ↑ and ↓ recall earlier commands. It runs as the cluster's SSH user; the node's exit code is shown as it is.</div>
              <InlineError error={error} />
            </section>
            {running && <div className="state state-loading" role="status"><span className="spinner" aria-hidden="true" />Running on {checked.join(', ')}…</div>}
            {last && !running && <ExecResults />}
          </>
        )}
    </div>
  );
}

function ExecResults() {
  const last = useExec((s) => s.last)!;
  const sum = summarize(last.results);
  return (
    <section className="exec-results" aria-label="results">
      <div className={`notice ${sum.failed || sum.unreachable ? 'warn' : 'ok'} exec-summary`} role="status">
        <span className="mono">$ {last.command}</span> <span>— {sum.text}</span>
      </div>
      {failuresFirst(last.results).map((r) => {
        const o = outcome(r);
        return (
          <article key={r.node} className={`exec-node exec-${o}`} data-node={r.node} aria-label={`${r.node}: ${o === 'unreachable' ? 'not reached' : `exit ${r.code}`}`}>
            <header>
              <strong>{r.node}</strong>
              <Badge state={TONE[o]}>{o === 'unreachable' ? 'not reached' : `exit ${r.code}`}</Badge>
              <span className="muted small">{r.error ? '' : `${Math.round(r.ms)} ms`}</span>
            </header>
            {r.error && <div className="exec-error">{r.error.message}</div>}
            {r.stdout && <pre className="exec-out">{r.stdout}</pre>}
            {r.stderr && <pre className="exec-err" aria-label="standard error">{r.stderr}</pre>}
            {!r.error && !r.stdout && !r.stderr && <div className="muted small">no output</div>}
          </article>
        );
      })}
    </section>
  );
}
