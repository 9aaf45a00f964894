import { useState } from 'react';
import { NAME_RULES } from '../../../main/api/contract.js';
import { useVolumes } from '../stores/volumes.js';
import { Dialog, Field } from '../components/common.js';

/** What the Volumes screen asks about a VC snapshot: a new one's tag, or a rollback or delete to confirm. */
export type SnapshotAsk = { what: 'take'; vc: string } | { what: 'rollback' | 'delete'; vc: string; tag: string };

/** Take a snapshot of the whole VC: its tag (the same name rule as the service), with or without memory. */
export function SnapshotDialog({ vc, onClose }: { vc: string; onClose: () => void }) {
  const [tag, setTag] = useState('');
  const [withMemory, setWithMemory] = useState(false);
  const take = useVolumes((s) => s.takeSnapshot);
  const bad = tag !== '' && !NAME_RULES.tag.re.test(tag) ? `tag: ${NAME_RULES.tag.rule}` : undefined;
  const submit = async () => { if (tag && !bad && await take(vc, tag, withMemory)) onClose(); };
  return (
    <Dialog title={`Snapshot every VM of ${vc}`} onClose={onClose}
      footer={<>
        <button className="btn" onClick={onClose}>Cancel</button>
        <button className="btn primary" disabled={!tag || Boolean(bad)} onClick={() => void submit()}>Take snapshot</button>
      </>}>
      <Field label="Tag" id="snap-tag" error={bad} hint="a name for this instant, e.g. before-upgrade">
        <input id="snap-tag" value={tag} onChange={(e) => setTag(e.target.value)} onKeyDown={(e) => { if (e.key === 'Enter') void submit(); }} autoFocus />
      </Field>
      <div className="control-row"><label className="check"><input type="checkbox" checked={withMemory} onChange={(e) => setWithMemory(e.target.checked)} /> With memory (a running VC: a rollback resumes where it was)</label></div>
      <p className="muted small">All VMs pause together for the instant (a few tens of milliseconds), each disk moves on to a new overlay, then all run on.</p>
    </Dialog>
  );
}

export function SnapshotConfirm({ ask, onClose }: { ask: Exclude<SnapshotAsk, { what: 'take' }>; onClose: () => void }) {
  const { rollback, deleteSnapshot } = useVolumes();
  const go = () => { onClose(); void (ask.what === 'rollback' ? rollback(ask.vc, ask.tag) : deleteSnapshot(ask.vc, ask.tag)); };
  return (
    <Dialog title={ask.what === 'rollback' ? `Roll ${ask.vc} back to ${ask.tag}?` : `Delete snapshot ${ask.tag} of ${ask.vc}?`} onClose={onClose}
      footer={<>
        <button className="btn" onClick={onClose}>Cancel</button>
        <button className="btn danger" onClick={go}>{ask.what === 'rollback' ? 'Roll back' : 'Delete'}</button>
      </>}>
      {ask.what === 'rollback'
        ? <p>Every VM of {ask.vc} returns to {ask.tag}: what they wrote since is lost. A running VC is stopped and runs again (from its saved memory, if the snapshot has it).</p>
        : <p>Its data is merged into the snapshots and disks above it (while the VMs run, by their QEMUs), so nothing they hold is lost; then its files are removed.</p>}
    </Dialog>
  );
}
