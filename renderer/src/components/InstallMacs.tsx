import { useState } from 'react';
import { useInstall } from '../stores/install.js';
import { InlineError } from './common.js';

/** The node list: node N is the N-th row; its address and host name are the service's plan. */
export function NodeTable({ errors }: { errors: Record<number, { mac?: string; hostname?: string; row?: string }> }) {
  const { nodes, check, lastPlan, setNode, removeNode } = useInstall();
  if (nodes.length === 0) return <p className="muted" data-testid="no-nodes">No nodes yet: gather their MAC addresses below.</p>;
  return (
    <table className="table compact install-nodes" aria-label="nodes">
      <thead><tr><th>#</th><th>Host name</th><th>MAC address</th><th>Boot IP</th><th /></tr></thead>
      <tbody>
        {nodes.map((n, i) => {
          const e = errors[i] ?? {};
          const planned = check?.nodes?.[i];
          // A host name's default stays shown while another field is being fixed.
          const name = planned?.hostname ?? lastPlan?.nodes?.[i]?.hostname ?? '';
          return (
            <tr key={i} data-node={i + 1} className={e.mac || e.hostname || e.row ? 'row-invalid' : undefined}>
              <td className="num">{i + 1}</td>
              <td>
                <input aria-label={`node ${i + 1} host name`} value={n.hostname} placeholder={name} onChange={(ev) => setNode(i, { hostname: ev.target.value })} autoComplete="off" aria-invalid={!!e.hostname} />
                {e.hostname && <div className="field-error">{e.hostname}</div>}
              </td>
              <td>
                <input className="mono" aria-label={`node ${i + 1} MAC`} value={n.mac} onChange={(ev) => setNode(i, { mac: ev.target.value })} autoComplete="off" spellCheck={false} aria-invalid={!!e.mac} />
                {(e.mac || e.row) && <div className="field-error" data-testid={`node-${i + 1}-error`}>{e.mac ?? e.row}</div>}
              </td>
              <td className="mono">{planned?.bootIp ?? <span className="muted">—</span>}</td>
              <td className="actions"><button type="button" className="btn small ghost" aria-label={`remove node ${i + 1}`} onClick={() => removeNode(i)}>✕</button></td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

type Way = 'auto' | 'typed' | 'csv';
const WAYS: { id: Way; label: string }[] = [
  { id: 'auto', label: 'Automatic' },
  { id: 'typed', label: 'Type or paste' },
  { id: 'csv', label: 'From a CSV file' },
];

/** The report's three ways of gathering MACs; each adds to the node list above. */
export function MacGathering() {
  const [way, setWay] = useState<Way>('typed');
  return (
    <div className="macs">
      <div className="segmented" role="tablist" aria-label="how to gather MAC addresses">
        {WAYS.map((w) => (
          <button key={w.id} type="button" role="tab" aria-selected={way === w.id} className={`macs-way${way === w.id ? ' active' : ''}`} onClick={() => setWay(w.id)}>{w.label}</button>
        ))}
      </div>
      <div className="macs-body" role="tabpanel">
        {way === 'auto' ? <Automatic /> : <FromText from={way === 'csv' ? 'csv' : 'text'} />}
      </div>
    </div>
  );
}

function FromText({ from }: { from: 'text' | 'csv' }) {
  const { addMacs, macErrors, macError } = useInstall();
  const [text, setText] = useState('');
  const [file, setFile] = useState<string>();
  const errors = macErrors?.from === from ? macErrors.errors : [];
  const add = async (t: string) => { if (await addMacs(from, t)) { setText(''); setFile(undefined); } };
  const readFile = async (f: File | undefined) => {
    if (!f) return;
    setFile(f.name);
    const t = await f.text();
    setText(t);
    await add(t);
  };
  return (
    <div className="form">
      {from === 'csv' ? (
        <>
          <p className="muted small">One line per node: <span className="mono">ordinal,mac[,hostname]</span>. The file gives the whole list, in the order of its ordinals.</p>
          <label className="btn file-pick">Choose a CSV file…
            <input type="file" accept=".csv,text/csv,text/plain" data-testid="mac-csv-file" onChange={(e) => void readFile(e.target.files?.[0])} />
          </label>
          {file && <span className="muted small">{file}</span>}
          <textarea id="mac-csv" aria-label="CSV of MAC addresses" rows={4} className="mono" value={text} onChange={(e) => setText(e.target.value)} placeholder={'1,52:54:4d:00:01:01\n2,52:54:4d:00:01:02,dl2'} spellCheck={false} />
          <div><button type="button" className="btn" disabled={!text.trim()} onClick={() => void add(text)}>Use this list</button></div>
        </>
      ) : (
        <>
          <p className="muted small">MACs separated by spaces, commas or new lines; each becomes the next node.</p>
          <textarea id="mac-typed" aria-label="MAC addresses" rows={3} className="mono" value={text} onChange={(e) => setText(e.target.value)} placeholder="52:54:4d:00:01:04 52-54-4D-00-01-05" spellCheck={false} />
          <div><button type="button" className="btn" disabled={!text.trim()} onClick={() => void add(text)}>Add these MACs</button></div>
        </>
      )}
      {errors.length > 0 && (
        <div className="notice bad" role="alert" data-testid="mac-errors">
          <strong>Nothing was added: {errors.length === 1 ? `one ${from === 'csv' ? 'line' : 'entry'} is` : `${errors.length} ${from === 'csv' ? 'lines' : 'entries'} are`} wrong.</strong>
          <ul>{errors.map((e, i) => (
            <li key={i}>{e.line !== undefined ? `line ${e.line}: ` : e.index !== undefined ? `entry ${e.index}${e.text ? ` (${e.text})` : ''}: ` : ''}{e.rule}</li>
          ))}</ul>
        </div>
      )}
      <InlineError error={macError} />
    </div>
  );
}

function Automatic() {
  const { watch, startWatch, stopWatch, confirmSeen, ignoreSeen, nodes } = useInstall();
  return (
    <div className="form">
      <p className="muted small">Power the machines on one at a time, in the order they should be numbered. Each new MAC asking the boot network for an address appears here with the next number; confirm it to add it.</p>
      <div className="control-row">
        {watch ? <button type="button" className="btn" onClick={stopWatch}>Stop watching</button>
          : <button type="button" className="btn primary" onClick={() => void startWatch()}>Start watching</button>}
        {watch && !watch.error && <span className="muted small"><span className="spinner" aria-hidden="true" /> Watching the DHCP log of {watch.node ?? '…'}</span>}
      </div>
      {watch?.error && <InlineError error={watch.error} />}
      {watch && watch.seen.length > 0 && (
        <ul className="macs-seen" aria-label="MACs seen">
          {watch.seen.map((mac, i) => (
            <li key={mac}>
              <span className="num">{nodes.length + i + 1}</span> <span className="mono">{mac}</span>
              <span className="spacer" />
              {i === 0 ? <button type="button" className="btn small primary" onClick={() => confirmSeen(mac)}>Confirm as node {nodes.length + 1}</button> : <span className="muted small">next</span>}
              <button type="button" className="btn small ghost" onClick={() => ignoreSeen(mac)}>Not a node</button>
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
