/**
 * What the Nodes screen concludes from node details, the DB status and the node services'
 * states: pure, so each judgement is tested without a cluster. Shapes are the contract's.
 */

export interface Capacity { cores: number; memMb: number }

export type CapacityVerdict =
  | { level: 'ok'; text: string }
  | { level: 'warn'; text: string }
  | { level: 'unknown'; text: string };

/**
 * Declared capacity is what placement trusts; detected is what the node has. Declaring more
 * than there is over-commits the node (a lab node declares less than its host: that is fine).
 */
export function capacityVerdict(declared: Capacity | undefined, detected: Capacity | undefined): CapacityVerdict {
  if (!declared || !detected) return { level: 'unknown', text: 'not detected' };
  const over: string[] = [];
  if (declared.cores > detected.cores) over.push(`${declared.cores} cores declared, ${detected.cores} present`);
  if (declared.memMb > detected.memMb) over.push(`${fmtMb(declared.memMb)} declared, ${fmtMb(detected.memMb)} present`);
  return over.length
    ? { level: 'warn', text: `declares more than it has: ${over.join('; ')}` }
    : { level: 'ok', text: 'declared capacity fits what the node has' };
}

export function fmtMb(mb: number): string {
  return mb >= 1024 && mb % 1024 === 0 ? `${mb / 1024} GiB` : mb >= 10240 ? `${(mb / 1024).toFixed(1)} GiB` : `${mb} MB`;
}

export interface ServiceCell { service: string; state: string; pid?: number }
export interface NodeServices { node: string; reachable: boolean; deployed: boolean; services: ServiceCell[] }

/** Node services as a grid: one row per node, one column per service name seen anywhere. */
export function serviceGrid(nodes: readonly NodeServices[]): { names: string[]; rows: { node: string; cells: (ServiceCell | undefined)[] }[] } {
  const names: string[] = [];
  for (const n of nodes) for (const s of n.services) if (!names.includes(s.service)) names.push(s.service);
  return { names, rows: nodes.map((n) => ({ node: n.node, cells: names.map((name) => n.services.find((s) => s.service === name)) })) };
}

/** How a state is coloured: node services, and KVM. */
export function stateTone(state: string | undefined): 'ok' | 'info' | 'bad' | 'warn' | 'muted' {
  switch (state) {
    case 'running': case 'master': case 'usable': return 'ok';
    case 'backup': return 'info';
    case 'stopped': case 'absent': case 'unusable': return 'bad';
    case 'unknown': case 'unverified': return 'warn';
    default: return 'muted';
  }
}

/** Every reachable node deployed with every service running, and exactly one VIP holder. */
export function servicesVerdict(s: { holders: readonly string[]; nodes: readonly NodeServices[] }): { level: 'ok' | 'warn' | 'bad'; text: string } {
  const down = s.nodes.filter((n) => !n.reachable).map((n) => n.node);
  const undeployed = s.nodes.filter((n) => n.reachable && !n.deployed).map((n) => n.node);
  const stopped = s.nodes.filter((n) => n.reachable && n.deployed && n.services.some((x) => x.state !== 'running')).map((n) => n.node);
  const parts: string[] = [];
  if (undeployed.length) parts.push(`not deployed on ${undeployed.join(', ')}`);
  if (stopped.length) parts.push(`not all running on ${stopped.join(', ')}`);
  if (s.holders.length > 1) parts.push(`split brain: the gateway address is held by ${s.holders.join(' and ')}`);
  else if (s.holders.length === 0 && s.nodes.some((n) => n.deployed)) parts.push('no node holds the gateway address');
  if (down.length) parts.push(`${down.join(', ')} did not answer`);
  if (parts.length === 0) return { level: 'ok', text: `every node runs its services; the gateway address is on ${s.holders[0] ?? '—'}` };
  return { level: s.holders.length > 1 || undeployed.length === s.nodes.length ? 'bad' : 'warn', text: parts.join('; ') };
}

/** Migrations as one phrase: "2 applied (latest 002_share_ids), 1 pending: 003_x". */
export function migrationsText(m: { applied: readonly string[]; pending: readonly string[]; unknown?: readonly string[] }): string {
  const parts = [m.applied.length === 0 ? 'none applied' : `${m.applied.length} applied (latest ${[...m.applied].sort().at(-1)})`];
  parts.push(m.pending.length === 0 ? 'none pending' : `${m.pending.length} pending: ${[...m.pending].sort().join(', ')}`);
  if (m.unknown?.length) parts.push(`${m.unknown.length} from a newer version of the app: ${m.unknown.join(', ')}`);
  return parts.join(' · ');
}

/** A port field's text as a port, or why not. */
export function parsePort(text: string): { port: number } | { error: string } {
  const t = text.trim();
  if (!/^\d{1,5}$/.test(t) || Number(t) < 1 || Number(t) > 65535) return { error: 'a port from 1 to 65535' };
  return { port: Number(t) };
}
