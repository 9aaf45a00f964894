import type { NodeConn } from '../ssh/types.js';
import { sh } from '../util/quote.js';
import { parseTscKhz, TSC_PROBE, type Machine } from './machine.js';
import type { QmpClient } from './qmp.js';

/**
 * What the machine rule (machine.ts) needs from the world: a node's TSC rate, and which
 * machine a running QEMU or a saved state has. A migration target and a restore must have
 * the machine of their source, whatever the rule says today: a VM started before its image
 * was rebuilt for microvm keeps `pc` until it is stopped.
 */

const tscCache = new Map<string, number | undefined>();

/** The node's host TSC rate in kHz (cached per node and process), undefined when it cannot be read. */
export async function hostTscKhz(conn: Pick<NodeConn, 'name' | 'exec'>): Promise<number | undefined> {
  if (tscCache.has(conn.name)) return tscCache.get(conn.name);
  const r = await conn.exec(TSC_PROBE);
  const khz = r.code === 0 ? parseTscKhz(r.stdout) : undefined;
  tscCache.set(conn.name, khz);
  return khz;
}

/** QOM type names: "microvm-machine", "pc-i440fx-7.2-machine". */
export function machineOfType(type: unknown): Machine {
  return typeof type === 'string' && type.startsWith('microvm') ? 'microvm' : 'pc';
}

/** The machine a running QEMU was started with. */
export async function runningMachine(q: QmpClient): Promise<Machine> {
  return machineOfType(await q.execute('qom-get', { path: '/machine', property: 'type' }));
}

/** Next to a saved state: the machine that wrote it (a state restores only into the same machine). */
export function stateMachineFile(statePath: string): string {
  return `${statePath}.machine`;
}

/** The machine a saved state needs: what the save wrote beside it; states saved before that file existed are all `pc`. */
export async function savedMachine(conn: Pick<NodeConn, 'exec'>, statePath: string): Promise<Machine> {
  const r = await conn.exec(`cat ${sh(stateMachineFile(statePath))} 2>/dev/null || true`);
  return r.stdout.trim() === 'microvm' ? 'microvm' : 'pc';
}
