/**
 * What the Nodes screen concludes from node details, the DB status and the node services'
 * states: pure, so each judgement is tested without a cluster.
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

export interface ServiceState { name: string; state: string; detail?: string }
export interface NodeServices { node: string; services: ServiceState[] }

/** Node services as a grid: one row per node, one column per service name seen anywhere. */
export function serviceGrid(status: readonly NodeServices[]): { names: string[]; rows: { node: string; cells: (ServiceState | undefined)[] }[] } {
  const names: string[] = [];
  for (const n of status) for (const s of n.services) if (!names.includes(s.name)) names.push(s.name);
  return { names, rows: status.map((n) => ({ node: n.node, cells: names.map((name) => n.services.find((s) => s.name === name)) })) };
}

/** How a service state is coloured. */
export function serviceTone(state: string): 'ok' | 'info' | 'bad' | 'warn' | 'muted' {
  if (state === 'running' || state === 'active' || state === 'master') return 'ok';
  if (state === 'backup' || state === 'standby' || state === 'replica') return 'info';
  if (state === 'failed' || state === 'stopped' || state === 'inactive' || state === 'missing' || state === 'dead') return 'bad';
  if (state === 'unknown' || state === 'starting' || state === 'activating') return 'warn';
  return 'muted';
}

/** Every service of every node running (or standing by): what "deployed" means here. */
export function servicesHealthy(status: readonly NodeServices[]): boolean {
  return status.length > 0 && status.every((n) => n.services.length > 0 && n.services.every((s) => ['ok', 'info'].includes(serviceTone(s.state))));
}

/** Migrations as one phrase: "1–7 applied, 8 and 9 pending". */
export function migrationsText(applied: readonly number[], pending: readonly number[]): string {
  const a = [...applied].sort((x, y) => x - y);
  const p = [...pending].sort((x, y) => x - y);
  const span = a.length === 0 ? 'none applied' : `${ranges(a)} applied`;
  return p.length === 0 ? `${span}, none pending` : `${span}, ${ranges(p)} pending`;
}

/** 1,2,3,5 → "1–3, 5" */
export function ranges(ns: readonly number[]): string {
  const out: string[] = [];
  for (let i = 0; i < ns.length; i++) {
    let j = i;
    while (j + 1 < ns.length && ns[j + 1] === ns[j]! + 1) j++;
    out.push(j > i ? `${ns[i]}–${ns[j]}` : String(ns[i]));
    i = j;
  }
  return out.join(', ');
}

/** A port field's text as a port, or why not. */
export function parsePort(text: string): { port: number } | { error: string } {
  const t = text.trim();
  if (!/^\d{1,5}$/.test(t) || Number(t) < 1 || Number(t) > 65535) return { error: 'a port from 1 to 65535' };
  return { port: Number(t) };
}
