import type { Queryable } from '../db/client.js';

/**
 * The node the DB's mapping names for a VM: the tie-breaker when a live migration briefly
 * leaves a serial socket on two nodes. A DB that cannot answer gives no hint, not an
 * error: the console still finds the VM by asking the nodes.
 */
export function mappingHint(db: Queryable): (vc: string, vm: string) => Promise<string | undefined> {
  return async (vc, vm) => {
    try {
      const r = await db.query<{ node: string }>('select node from mapping where vc = $1 and vm = $2', [vc, vm]);
      return r.rows[0]?.node;
    } catch {
      return undefined;
    }
  };
}
