import { useEffect, useState } from 'react';
import { NodeName } from '../../../main/api/contract.js';
import { useClusters } from '../stores/clusters.js';
import { Badge, Field, InlineError } from '../components/common.js';

/** The lab's disk-less machines: QEMU with no disk that boots from the network, as a real node would. */
export function LabMachines() {
  const { machines, machinesError, machineBusy, loadMachines, powerOn, powerOff } = useClusters();
  const [name, setName] = useState('');
  useEffect(() => { void loadMachines(); }, [loadMachines]);
  const check = name === '' ? undefined : NodeName.safeParse(name);
  const bad = check && !check.success ? check.error.issues[0]?.message : undefined;
  return (
    <section aria-labelledby="machines-h">
      <h3 id="machines-h">Disk-less machines</h3>
      <div className="row-between machine-form">
        <Field id="machine-name" label="Machine name" error={bad}>
          <input id="machine-name" value={name} onChange={(e) => setName(e.target.value)} placeholder="m1" autoComplete="off" />
        </Field>
        <button className="btn" id="machine-on" disabled={!name || !!bad || machineBusy === name} onClick={() => void powerOn(name)}>Power on</button>
      </div>
      <InlineError error={machinesError} />
      {machines && machines.length > 0 && (
        <table className="table compact">
          <thead><tr><th>Machine</th><th>MAC</th><th>State</th><th /></tr></thead>
          <tbody>
            {machines.map((m) => (
              <tr key={m.name} data-machine={m.name}>
                <td><strong>{m.name}</strong> <span className="muted small">{m.accel}</span></td>
                <td className="mono small">{m.mac}</td>
                <td><Badge state={m.running ? 'ok' : 'muted'}>{m.running ? 'running' : 'off'}</Badge></td>
                <td className="actions">
                  {m.running
                    ? <button className="btn small ghost" disabled={machineBusy === m.name} onClick={() => void powerOff(m.name)}>Power off</button>
                    : <button className="btn small" disabled={machineBusy === m.name} onClick={() => void powerOn(m.name)}>Power on</button>}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {machines && machines.length === 0 && <div className="muted small">None yet: a machine powered on here boots from the network like a disk-less node.</div>}
    </section>
  );
}
