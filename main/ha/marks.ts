import { VlxError, invalid } from '../errors.js';
import type { Queryable } from '../db/client.js';
import type { VcInfo } from '../api/contract.js';
import { HA_ORDER, HA_PRIORITY, effectiveMarks } from './plan.js';

/**
 * HA marks in the database (migration 005): the VC's defaults and each VM's own, and what the
 * last HA restart did with each VM. Every face reads them with the VC (vc list, vc status).
 */
export interface SetHa {
  name: string;
  on: boolean;
  vm?: string;
  priority?: number;
  order?: number;
}

function checkRange(field: string, v: number | undefined, r: { min: number; max: number }): void {
  if (v !== undefined && (!Number.isInteger(v) || v < r.min || v > r.max)) throw invalid(field, `must be a whole number from ${r.min} to ${r.max}`, v);
}

export async function setHa(q: Queryable, i: SetHa): Promise<void> {
  checkRange('priority', i.priority, HA_PRIORITY);
  checkRange('order', i.order, HA_ORDER);
  if (i.order !== undefined && i.vm === undefined) throw invalid('order', 'is a start order within the VC, per VM: name the VM', i.order);
  const vc = await q.query(`select 1 from vcs where name = $1`, [i.name]);
  if (vc.rowCount === 0) throw new VlxError('not-found', `no VC named "${i.name}"`, 'see `vlx vc list`');
  if (i.vm === undefined) {
    await q.query(`update vcs set ha = $2, ha_priority = coalesce($3, ha_priority) where name = $1`, [i.name, i.on, i.priority ?? null]);
    return;
  }
  const r = await q.query(`update vms set ha = $3, ha_priority = coalesce($4, ha_priority), ha_order = coalesce($5, ha_order) where vc = $1 and name = $2`,
    [i.name, i.vm, i.on, i.priority ?? null, i.order ?? null]);
  if (r.rowCount === 0) throw new VlxError('not-found', `VC ${i.name} has no VM "${i.vm}"`, `see \`vlx vc status ${i.name}\``);
}

interface Row { vc: string; vm: string; idx: number; vc_ha: boolean; vc_priority: number; vm_ha: boolean | null; vm_priority: number | null; vm_order: number | null; note: string | null }

/** The VCs with their HA marks and notes; unchanged on a database before migration 005. */
export async function withHa<T extends VcInfo>(q: Queryable, vcs: T[]): Promise<T[]> {
  if (vcs.length === 0) return vcs;
  let rows: Row[];
  try {
    rows = (await q.query<Row>(
      `select v.vc, v.name as vm, v.idx, c.ha as vc_ha, c.ha_priority as vc_priority, v.ha as vm_ha, v.ha_priority as vm_priority, v.ha_order as vm_order,
              (select case h.action when 'restart' then 'restarted on ' || h.to_node || ' after ' || h.from_node || ' went down' else h.reason end
                 from ha_restarts h where h.vc = v.vc and h.vm = v.name order by h.claimed_at desc limit 1) as note
         from vms v join vcs c on c.name = v.vc where v.vc = any($1::text[])`,
      [vcs.map((v) => v.name)],
    )).rows;
  } catch (e) {
    if ((e as { details?: { pgCode?: string } }).details?.pgCode === '42703' || (e as { details?: { pgCode?: string } }).details?.pgCode === '42P01') return vcs;
    throw e;
  }
  return vcs.map((vc) => {
    const mine = rows.filter((r) => r.vc === vc.name);
    const first = mine[0];
    return {
      ...vc,
      ...(first ? { ha: { on: first.vc_ha, priority: first.vc_priority } } : {}),
      vms: vc.vms.map((v) => {
        const r = mine.find((x) => x.vm === v.name);
        if (!r) return v;
        const m = effectiveMarks({ ha: r.vc_ha, priority: r.vc_priority }, { ha: r.vm_ha, priority: r.vm_priority, order: r.vm_order });
        return { ...v, ha: { on: m.ha, priority: m.priority, order: m.order ?? r.idx, own: r.vm_ha !== null }, ...(r.note ? { haNote: r.note } : {}) };
      }),
    };
  });
}
