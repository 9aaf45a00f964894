import { useEffect, useState } from 'react';
import type { VcInfo, VmInfo } from '../../../main/api/contract.js';
import { api, shown, type ShownError } from '../api.js';
import { useVcs } from '../stores/vcs.js';
import { InlineError } from '../components/common.js';

/**
 * HA restart marks on the VC screen (the same channel as `vlx vc ha`): the VC's default, and per
 * VM its own on/off, restart priority and start order. A bad number is refused by the contract,
 * whose message names the field and the rule.
 */
async function setHa(input: { name: string; on: boolean; vm?: string; priority?: number; order?: number }): Promise<ShownError | undefined> {
  try {
    await api().call('vc.setHa', input);
    await useVcs.getState().select(input.name);
    return undefined;
  } catch (e) {
    return shown(e);
  }
}

function VcHaBar({ vc }: { vc: VcInfo }) {
  const [error, setError] = useState<ShownError>();
  const [priority, setPriority] = useState(String(vc.ha?.priority ?? 0));
  // Shown at once; the answer (or the refusal) then decides.
  const [on, setOn] = useState<boolean | undefined>();
  useEffect(() => { setOn(undefined); setPriority(String(vc.ha?.priority ?? 0)); }, [vc.ha?.on, vc.ha?.priority]);
  if (!vc.ha) return null;
  const shownOn = on ?? vc.ha.on;
  return (
    <div className="ha-bar" aria-label="HA restart">
      <label title="VMs without a mark of their own run again elsewhere when their node is confirmed down">
        <input type="checkbox" aria-label="HA restart by default" checked={shownOn}
          onChange={async (e) => { setOn(e.target.checked); const err = await setHa({ name: vc.name, on: e.target.checked }); if (err) setOn(undefined); setError(err); }} />
        HA restart by default
      </label>
      <label>priority <input className="num" aria-label="default HA priority" value={priority} onChange={(e) => setPriority(e.target.value)}
        onBlur={async () => setError(await setHa({ name: vc.name, on: shownOn, priority: Number(priority) }))} /></label>
      <InlineError error={error} />
    </div>
  );
}

/** The VC's HA section: its default, then one row per VM (its own mark or the default). */
export function VcHaSection({ vc }: { vc: VcInfo }) {
  if (!vc.ha) return null;
  return (
    <section className="ha-section" aria-label={`HA restart of ${vc.name}`}>
      <h3>HA restart</h3>
      <VcHaBar vc={vc} />
      <table className="table compact">
        <thead><tr><th>VM</th><th>HA · priority · start order</th></tr></thead>
        <tbody>
          {vc.vms.map((vm) => <tr key={vm.name} data-ha-vm={vm.name}><td><strong>{vm.name}</strong></td><td><VmHaCell vc={vc.name} vm={vm} /></td></tr>)}
        </tbody>
      </table>
    </section>
  );
}

function VmHaCell({ vc, vm }: { vc: string; vm: VmInfo }) {
  const [error, setError] = useState<ShownError>();
  const [priority, setPriority] = useState(String(vm.ha?.priority ?? 0));
  const [order, setOrder] = useState(String(vm.ha?.order ?? 0));
  const [on, setOn] = useState<boolean | undefined>();
  useEffect(() => { setOn(undefined); }, [vm.ha?.on]);
  if (!vm.ha) return <span className="muted">—</span>;
  const shownOn = on ?? vm.ha.on;
  const save = async (next: { on?: boolean; priority?: string; order?: string }) => {
    if (next.on !== undefined) setOn(next.on);
    const err = await setHa({ name: vc, vm: vm.name, on: next.on ?? shownOn, priority: Number(next.priority ?? priority), order: Number(next.order ?? order) });
    if (err && next.on !== undefined) setOn(undefined);
    setError(err);
  };
  return (
    <div className="vm-ha" data-ha={shownOn ? 'on' : 'off'}>
      <label title={vm.ha.own ? 'this VM\'s own mark' : 'the VC\'s default'}>
        <input type="checkbox" aria-label={`HA for ${vm.name}`} checked={shownOn} onChange={(e) => void save({ on: e.target.checked })} /> HA
      </label>
      <label>priority <input className="num" aria-label={`priority of ${vm.name}`} value={priority} onChange={(e) => setPriority(e.target.value)} onBlur={() => void save({ priority })} /></label>
      <label>order <input className="num" aria-label={`start order of ${vm.name}`} value={order} onChange={(e) => setOrder(e.target.value)} onBlur={() => void save({ order })} /></label>
      {vm.haNote && <div className="note small muted">{vm.haNote}</div>}
      <InlineError error={error} />
    </div>
  );
}
