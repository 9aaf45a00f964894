import { useState } from 'react';
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

export function VcHaBar({ vc }: { vc: VcInfo }) {
  const [error, setError] = useState<ShownError>();
  const [priority, setPriority] = useState(String(vc.ha?.priority ?? 0));
  if (!vc.ha) return null;
  return (
    <div className="control-row" aria-label="HA restart">
      <label><input type="checkbox" checked={vc.ha.on} onChange={async (e) => setError(await setHa({ name: vc.name, on: e.target.checked }))} />
        {' '}HA restart by default (VMs run again elsewhere when their node is confirmed down)</label>
      <label>priority <input className="num" size={5} value={priority} onChange={(e) => setPriority(e.target.value)}
        onBlur={async () => setError(await setHa({ name: vc.name, on: vc.ha!.on, priority: Number(priority) }))} /></label>
      <InlineError error={error} />
    </div>
  );
}

export function VmHaCell({ vc, vm }: { vc: string; vm: VmInfo }) {
  const [error, setError] = useState<ShownError>();
  const [priority, setPriority] = useState(String(vm.ha?.priority ?? 0));
  const [order, setOrder] = useState(String(vm.ha?.order ?? 0));
  if (!vm.ha) return <span className="muted">—</span>;
  const ha = vm.ha;
  const save = async (next: { on?: boolean; priority?: string; order?: string }) =>
    setError(await setHa({ name: vc, vm: vm.name, on: next.on ?? ha.on, priority: Number(next.priority ?? priority), order: Number(next.order ?? order) }));
  return (
    <div className="vm-ha" data-ha={ha.on ? 'on' : 'off'}>
      <label title={ha.own ? 'this VM\'s own mark' : 'the VC\'s default'}>
        <input type="checkbox" aria-label={`HA for ${vm.name}`} checked={ha.on} onChange={(e) => void save({ on: e.target.checked })} /> HA
      </label>
      {' '}<label className="small">p <input className="num" size={4} aria-label={`priority of ${vm.name}`} value={priority} onChange={(e) => setPriority(e.target.value)} onBlur={() => void save({ priority })} /></label>
      {' '}<label className="small">order <input className="num" size={4} aria-label={`start order of ${vm.name}`} value={order} onChange={(e) => setOrder(e.target.value)} onBlur={() => void save({ order })} /></label>
      {vm.haNote && <div className="small muted">{vm.haNote}</div>}
      <InlineError error={error} />
    </div>
  );
}
