import { VlxError } from '../errors.js';
import { sh } from '../util/quote.js';
import { parseManifest, type Manifest } from '../domain/manifest.js';
import { SHARED_ROOT } from '../config/paths.js';
import type { NodeConn } from '../ssh/types.js';

/**
 * The one reader of the cluster manifest on shared storage, through a node's connection.
 * Absent (exit 3) is `undefined`; any other failure is an error, never taken for "absent".
 */
export async function readManifestVia(conn: Pick<NodeConn, 'name' | 'exec'>, root: string = SHARED_ROOT, timeoutMs = 10_000): Promise<Manifest | undefined> {
  const file = `${root}/manifest.json`;
  const r = await conn.exec(`test -e ${sh(file)} || exit 3; cat ${sh(file)}`, { timeoutMs });
  if (r.code === 3) return undefined;
  if (r.code !== 0) throw new VlxError('remote-failed', `${conn.name}: cannot read ${file}: ${r.stderr.trim() || `exit ${r.code}`}`);
  return parseManifest(r.stdout, `${file} on node ${conn.name}`);
}
