import { useEffect, useState } from 'react';
import type { Mode, Policy, VcInfo } from '../../../main/api/contract.js';
import { useVcs, type VcAction } from '../stores/vcs.js';
import { useTopology } from '../stores/topology.js';
import { useApp } from '../stores/app.js';
import { useConsoles } from '../stores/consoles.js';
import { vcColour } from '../stores/topology.logic.js';
import { WIZARD_FIELDS, type WizardField } from '../stores/wizard.logic.js';
import { sharedStorageSource } from '../stores/vcs.logic.js';
import { Badge, Dialog, Empty, ErrorState, Field, InlineError, Loading } from '../components/common.js';
import { VcHaSection } from './VcHa.js';

const STATE_TONE: Record<string, string> = { running: 'ok', saved: 'info', stopped: 'muted', error: 'bad', partial: 'warn' };

export function VcsScreen() {
  const { list, error, load, loading, selected, select, openWizard, wizard } = useVcs();
  const loadTopology = useTopology((s) => s.load);
  useEffect(() => { void load(); void loadTopology(); }, [load, loadTopology]);
  return (
    <div className="screen">
      <header className="screen-head row-between">
        <div>
          <h1>Virtual clusters</h1>
          <p className="lead">Sets of identical VMs with a private routed subnet, copy-on-write disks from one image, and shared storage.</p>
        </div>
        <div className="toolbar">
          <button className="btn" onClick={() => void load()} disabled={loading}>Refresh</button>
          <button className="btn primary" onClick={openWizard}>New virtual cluster</button>
        </div>
      </header>
      {error && !list ? <ErrorState error={error} what="virtual clusters" onRetry={load} />
        : !list ? <Loading what="virtual clusters" />
        : list.length === 0 ? <Empty title="No virtual clusters" action={<button className="btn primary" onClick={openWizard}>Create the first one</button>}>A VC is created in milliseconds: its disks are overlays of the image, not copies.</Empty>
        : (
          <div className="split">
            <table className="table vc-table">
              <thead><tr><th>Name</th><th>State</th><th>VMs</th><th>Each VM</th><th>Image</th><th>Subnet</th><th>Placement</th></tr></thead>
              <tbody>
                {list.map((vc) => (
                  <tr key={vc.name} className={`clickable${selected === vc.name ? ' row-selected' : ''}`} onClick={() => void select(vc.name)} data-vc={vc.name}>
                    <td><span className="swatch" style={{ background: vcColour(vc.name, list.map((v) => v.name)) }} /> <strong>{vc.name}</strong></td>
                    <td><Badge state={STATE_TONE[vc.state] ?? 'muted'}>{vc.state}</Badge></td>
                    <td>{vc.vms.filter((v) => v.state === 'running').length}/{vc.vms.length} running</td>
                    <td>{vc.vcpus} vCPU · {vc.memMb} MB · {vc.diskGb} GB{vc.swapMb ? ` · swap ${vc.swapMb} MB` : ''}</td>
                    <td className="mono">{vc.image}</td>
                    <td className="mono">{vc.subnet}</td>
                    <td>{vc.policy ? `${vc.policy}, ${vc.mode}` : <span className="muted">not started</span>}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            {selected && <VcDetailPanel name={selected} vc={list.find((v) => v.name === selected)} />}
          </div>
        )}
      {wizard.open && <Wizard />}
    </div>
  );
}

function VcDetailPanel({ name, vc }: { name: string; vc?: VcInfo }) {
  const { detail, detailError, actionError, busy, act, select, destroying: destroyingVc, askDestroy, list } = useVcs();
  const go = useApp((s) => s.go);
  const openConsole = useConsoles((s) => s.open);
  const [policy, setPolicy] = useState<Policy>(vc?.policy ?? 'cyclic');
  const [mode, setMode] = useState<Mode>(vc?.mode ?? 'strict');
  const destroying = destroyingVc === name;
  const setDestroying = (on: boolean) => askDestroy(on ? name : undefined);
  const shownVc = detail?.name === name ? detail : vc;
  if (!shownVc) return <aside className="detail"><Loading what={name} /></aside>;
  const run = async (a: VcAction) => {
    const taskId = await act(a, name, { policy, mode });
    if (taskId) void select(name);
  };
  const st = shownVc.state;
  return (
    <aside className="detail" aria-label={`virtual cluster ${name}`}>
      <div className="detail-head">
        <h2><span className="swatch" style={{ background: vcColour(name, list?.map((v) => v.name)) }} /> {name}</h2>
        <Badge state={STATE_TONE[st] ?? 'muted'}>{st}</Badge>
        <button className="btn small ghost" onClick={() => void select(undefined)} aria-label="Close details">✕</button>
      </div>
      <div className="control-row">
        <label>Policy
          <select value={policy} onChange={(e) => setPolicy(e.target.value as Policy)} aria-label="policy">
            <option value="block">block: fill a node first</option>
            <option value="cyclic">cyclic: round-robin</option>
          </select>
        </label>
        <label>Mode
          <select value={mode} onChange={(e) => setMode(e.target.value as Mode)} aria-label="mode">
            <option value="strict">strict: never over-commit cores</option>
            <option value="free">free: ignore core count</option>
          </select>
        </label>
      </div>
      <div className="control-row">
        <button className="btn primary" disabled={!!busy || st === 'running'} onClick={() => void run('start')}>{busy === 'start' ? 'Starting…' : 'Start'}</button>
        <button className="btn" disabled={!!busy || st !== 'saved'} onClick={() => void run('restore')}>Restore</button>
        <button className="btn" disabled={!!busy || (st !== 'running' && st !== 'partial')} onClick={() => void run('save')}>Save</button>
        <button className="btn" disabled={!!busy || (st !== 'running' && st !== 'partial')} onClick={() => void run('stop')}>Stop</button>
        <span className="spacer" />
        <button className="btn danger" disabled={!!busy} onClick={() => setDestroying(true)}>Destroy…</button>
      </div>
      <InlineError error={actionError} />
      <InlineError error={detailError} />
      {detail && detail.drift.length > 0 && (
        <div className="notice warn"><strong>Drift between the database and the nodes:</strong><ul>{detail.drift.map((d) => <li key={d}>{d}</li>)}</ul></div>
      )}
      <table className="table compact">
        <thead><tr><th>VM</th><th>Node</th><th>State</th><th>Address · MAC</th><th /></tr></thead>
        <tbody>
          {shownVc.vms.map((vm) => (
            <tr key={vm.name} data-vm={vm.name}>
              <td><strong>{vm.name}</strong></td>
              <td className="vm-node">{vm.node ?? <span className="muted">—</span>}</td>
              <td className="vm-state"><Badge state={STATE_TONE[vm.state] ?? 'muted'}>{vm.state}</Badge></td>
              <td><div className="mono">{vm.address}</div><div className="mono small muted">{vm.mac}</div></td>
              <td className="actions"><button className="btn small ghost" disabled={vm.state !== 'running'} onClick={() => { void openConsole({ kind: 'vm', vc: name, vm: vm.name }); go('consoles'); }}>Console</button></td>
            </tr>
          ))}
        </tbody>
      </table>
      <VcHaSection vc={shownVc} />
      <SharedStorage name={name} subnet={shownVc.subnet} />
      {destroying && <DestroyDialog name={name} close={() => setDestroying(false)} onConfirm={async () => { setDestroying(false); await run('destroy'); }} />}
    </aside>
  );
}

function SharedStorage({ name, subnet }: { name: string; subnet: string }) {
  const source = sharedStorageSource(name, subnet);
  if (!source) return null;
  return (
    <p className="detail-note" aria-label="shared storage">
      <strong>Shared storage</strong> at <span className="mono">/shared</span> in every VM, from <span className="mono">{source}</span>:
      {' '}NFS served by each node, so it stays mounted when a VM moves or is restored elsewhere.
    </p>
  );
}

function DestroyDialog({ name, close, onConfirm }: { name: string; close: () => void; onConfirm: () => Promise<void> }) {
  const [typed, setTyped] = useState('');
  return (
    <Dialog title={`Destroy virtual cluster ${name}?`} onClose={close}
      footer={<>
        <button className="btn" onClick={close}>Cancel</button>
        <button className="btn danger" disabled={typed !== name} onClick={() => void onConfirm()}>Destroy {name}</button>
      </>}>
      <p>This stops its VMs and removes their disks, saved states, shared storage, routes and firewall rules. It cannot be undone.</p>
      <Field id="destroy-name" label={`Type the name, ${name}, to confirm`}>
        <input id="destroy-name" value={typed} onChange={(e) => setTyped(e.target.value)} autoComplete="off" />
      </Field>
    </Dialog>
  );
}

const LABELS: Record<WizardField, { label: string; hint: string; numeric?: boolean }> = {
  name: { label: 'Name', hint: 'lowercase letters, digits and "-"; up to 24' },
  nodes: { label: 'Virtual nodes (VMs)', hint: 'how many identical VMs', numeric: true },
  vcpus: { label: 'vCPUs per VM', hint: '1 to 64', numeric: true },
  memMb: { label: 'Memory per VM, MB', hint: 'checked against every node', numeric: true },
  diskGb: { label: 'Disk per VM, GB', hint: 'virtual size of the overlay', numeric: true },
  swapMb: { label: 'Swap per VM, MB', hint: '0 for none', numeric: true },
  image: { label: 'OS image', hint: 'the template the disks overlay' },
  subnet: { label: 'Private subnet', hint: '"auto" takes the next free /24 of the pool' },
};

function Wizard() {
  const { wizard, images, setField, setPlacementChoice, submit, closeWizard } = useVcs();
  const go = useApp((s) => s.go);
  const { fields, touched, result, preview, policy, mode, submitting, submitError } = wizard;
  const err = (f: WizardField) => (touched[f] ? result.errors[f] : undefined);
  const placement = preview.placement;
  const byNode = new Map<string, string[]>();
  for (const m of placement?.mapping ?? []) byNode.set(m.node, [...(byNode.get(m.node) ?? []), m.vm]);
  return (
    <Dialog title="New virtual cluster" onClose={closeWizard} wide
      footer={<>
        {Object.keys(result.errors).length > 0 && Object.keys(touched).length > 0 && <span className="muted small footer-note">{Object.keys(result.errors).length} field{Object.keys(result.errors).length === 1 ? '' : 's'} to fix</span>}
        <button className="btn" onClick={closeWizard}>Cancel</button>
        <button className="btn primary" disabled={submitting || !result.spec} onClick={async () => { if (await submit()) go('tasks'); }}>{submitting ? 'Creating…' : 'Create'}</button>
      </>}>
      <div className="wizard">
        <form className="form wizard-form" onSubmit={(e) => e.preventDefault()}>
          {WIZARD_FIELDS.map((f) => (
            <Field key={f} id={`w-${f}`} label={LABELS[f].label} hint={LABELS[f].hint} error={err(f)}>
              {f === 'image' && images && images.length > 0 ? (
                <select id="w-image" value={fields.image} onChange={(e) => setField('image', e.target.value)}>
                  {!images.some((i) => i.name === fields.image) && <option value={fields.image}>{fields.image}</option>}
                  {images.map((i) => <option key={i.name} value={i.name}>{i.name}</option>)}
                </select>
              ) : (
                <input id={`w-${f}`} value={fields[f]} onChange={(e) => setField(f, e.target.value)} inputMode={LABELS[f].numeric ? 'numeric' : 'text'}
                  aria-invalid={!!err(f)} aria-describedby={err(f) ? `w-${f}-err` : undefined} autoComplete="off" />
              )}
            </Field>
          ))}
        </form>
        <div className="wizard-preview">
          <h3>Placement preview</h3>
          <div className="control-row">
            <label>Policy
              <select value={policy} onChange={(e) => setPlacementChoice(e.target.value as Policy, mode)}>
                <option value="block">block</option><option value="cyclic">cyclic</option>
              </select>
            </label>
            <label>Mode
              <select value={mode} onChange={(e) => setPlacementChoice(policy, e.target.value as Mode)}>
                <option value="strict">strict</option><option value="free">free</option>
              </select>
            </label>
          </div>
          {!result.spec ? <div className="muted">The preview appears when every field is valid.</div>
            : preview.state === 'loading' && !placement ? <Loading what="placement" />
            : preview.state === 'error' && preview.error ? <InlineError error={preview.error} />
            : placement && !placement.placeable ? <div className="notice bad"><strong>Cannot be placed:</strong> {placement.reason}</div>
            : placement ? (
              <ul className="preview-list">
                {[...byNode].map(([node, vms]) => <li key={node}><strong>{node}</strong> <span className="muted">{vms.length} VM{vms.length === 1 ? '' : 's'}:</span> <span className="mono small">{vms.join(', ')}</span></li>)}
              </ul>
            ) : <div className="muted">…</div>}
          <p className="muted small">Placement is decided again when the VC starts, with the policy and mode chosen then.</p>
        </div>
      </div>
      <InlineError error={submitError} />
    </Dialog>
  );
}
