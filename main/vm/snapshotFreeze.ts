import { VlxError } from '../errors.js';
import { sh } from '../util/quote.js';
import type { VcEnv } from '../cluster/env.js';
import { openQmp, saveToFile, status, type QmpClient, type QmpEvent } from './qmp.js';
import { diskTop, snapshotDisk } from './snapshotQmp.js';
import type { NodeConn } from '../ssh/types.js';

/**
 * One instant for a whole running VC: every VM is paused (QMP `stop`, all at once), each disk
 * moves on to a new overlay (the old top is the snapshot's frozen file), RAM is saved if
 * asked, then every VM runs again (`cont`, all at once). The QMP connections are opened
 * before the first stop, so the pause holds only the commands themselves.
 */
export interface FreezeTarget {
  vm: string;
  node: string;
  qmp: string;
  overlay: string;
  stateFile: string | null;
}

export interface FreezeResult {
  /** First STOP to last RESUME event, in QEMU's timestamps (the lab's nodes share one clock; else the wall time). */
  pauseMs: number;
  /** First stop sent to last cont answered, on this workstation's clock. */
  wallMs: number;
}

const eventMs = (e: QmpEvent): number | undefined => (e.timestamp ? e.timestamp.seconds * 1000 + e.timestamp.microseconds / 1000 : undefined);

/** QEMU names the new overlay's node after the overlay's number, unique for the life of a QEMU. */
function overlayNode(overlay: string): string {
  const m = /\.(\d+)\.qcow2$/.exec(overlay);
  if (!m) throw new VlxError('internal', `overlay ${overlay} has no number`);
  return `ov${m[1]}`;
}

interface Open { t: FreezeTarget; q: QmpClient; conn: NodeConn; stops: number[]; resumes: number[] }

export async function freezeRunning(env: VcEnv, targets: FreezeTarget[], log: (l: string) => void): Promise<FreezeResult> {
  const opened: Open[] = [];
  try {
    await Promise.all(targets.map(async (t) => {
      const conn = await env.session.node(t.node);
      const q = await openQmp(conn, t.qmp, { label: `${t.node}/${t.vm}`, timeoutMs: 30_000 }).catch((e: unknown) => {
        throw new VlxError('conflict', `${t.vm}: its QEMU on ${t.node} does not answer (${(e as Error).message}): not running, no snapshot`, 'start the VC or stop it, then take the snapshot');
      });
      const o: Open = { t, q, conn, stops: [], resumes: [] };
      q.on('event', (e) => {
        const ms = eventMs(e);
        if (ms === undefined) return;
        if (e.event === 'STOP') o.stops.push(ms);
        if (e.event === 'RESUME') o.resumes.push(ms);
      });
      opened.push(o);
    }));
    const tops = new Map(await Promise.all(opened.map(async (o) => [o.t.vm, await diskTop(o.q)] as const)));
    const saved = new Set<string>();
    for (const o of opened) {
      if (o.t.stateFile && (await o.conn.exec(`test -s ${sh(o.t.stateFile)}`)).code === 0) saved.add(o.t.vm);
      const st = (await status(o.q)).status;
      if (st !== 'running' && st !== 'paused') throw new VlxError('conflict', `${o.t.vm}: QEMU is ${st}, not running: no snapshot`);
    }
    const t0 = performance.now();
    try {
      await Promise.all(opened.map((o) => o.q.execute('stop')));
      await Promise.all(opened.map(async (o) => {
        const top = tops.get(o.t.vm)!;
        if (top.file !== o.t.overlay) await snapshotDisk(o.q, top.node, o.t.overlay, overlayNode(o.t.overlay));
        if (o.t.stateFile && !saved.has(o.t.vm)) {
          const part = `${o.t.stateFile}.part`;
          const r = await saveToFile(o.q, part);
          await o.conn.run(`mv -f ${sh(part)} ${sh(o.t.stateFile)}`);
          log(`${o.t.vm}: RAM saved (${r.transferredBytes} bytes in ${r.totalTimeMs} ms)`);
        }
      }));
    } finally {
      // Never leave the VC paused, whatever failed: the VMs run on, on whichever top they have.
      const conts = await Promise.allSettled(opened.map((o) => o.q.execute('cont')));
      conts.forEach((r, i) => { if (r.status === 'rejected') log(`warning: ${opened[i]!.t.vm}: cont failed: ${(r.reason as Error).message}`); });
    }
    const wallMs = Math.round(performance.now() - t0);
    // RESUME follows the cont answer closely; give late events a moment.
    for (let i = 0; i < 10 && opened.some((o) => o.resumes.length === 0 || o.stops.length === 0); i++) await new Promise((r) => setTimeout(r, 20));
    const stops = opened.map((o) => o.stops[0]);
    const resumes = opened.map((o) => o.resumes[o.resumes.length - 1]);
    const complete = stops.every((x) => x !== undefined) && resumes.every((x) => x !== undefined);
    const pauseMs = complete ? Math.round(Math.max(...(resumes as number[])) - Math.min(...(stops as number[]))) : wallMs;
    return { pauseMs, wallMs };
  } finally {
    for (const o of opened) o.q.close();
  }
}
