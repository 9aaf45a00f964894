import type { NodeConn } from '../ssh/types.js';
import { sh } from '../util/quote.js';
import { parseTscKhz, TSC_PROBE, type Machine } from './machine.js';
import type { QmpClient } from './qmp.js';

/**
 * What the machine rule (machine.ts) needs from the world: a node's TSC rate, and which
 * machine a running QEMU or a saved state has. A migration target and a restore must have
 * the machine of their source, whatever the rule says today: a VM started before its image
 * was rebuilt for microvm keeps `pc` until it is stopped, and its saved states stay `pc`.
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

/**
 * The machine type named in the head of a QEMU migration stream (a saved state), given as
 * `od -An -v -tx1` prints it: "QEVM", a 4-byte version, then the configuration section
 * (0x07) with the machine type's name (4-byte big-endian length, then the name), which QEMU
 * itself checks on load. undefined when the bytes are not such a head.
 */
export function machineOfStateHead(odHex: string): Machine | undefined {
  const b = Buffer.from(odHex.replace(/\s+/g, ''), 'hex');
  if (b.length < 13 || b.toString('latin1', 0, 4) !== 'QEVM' || b[8] !== 0x07) return undefined;
  const len = b.readUInt32BE(9);
  if (len < 1 || len > 48 || 13 + len > b.length) return undefined;
  return machineOfType(b.toString('latin1', 13, 13 + len));
}

/**
 * The machine a saved state restores into, read from the state itself (whoever wrote it: a
 * save, a VC snapshot with memory); `pc` when it cannot be read.
 */
export async function savedMachine(conn: Pick<NodeConn, 'exec'>, statePath: string): Promise<Machine> {
  const r = await conn.exec(`head -c 64 ${sh(statePath)} 2>/dev/null | od -An -v -tx1`);
  return (r.code === 0 ? machineOfStateHead(r.stdout) : undefined) ?? 'pc';
}
