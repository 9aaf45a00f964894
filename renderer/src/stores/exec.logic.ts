import type { ExecResultInfo } from '../../../main/api/contract.js';

/** How one node's run ended, as the Exec screen colours it. */
export type Outcome = 'ok' | 'failed' | 'unreachable';

export function outcome(r: Pick<ExecResultInfo, 'code' | 'error'>): Outcome {
  if (r.error) return 'unreachable';
  return r.code === 0 ? 'ok' : 'failed';
}

export interface ExecSummary {
  ok: number;
  failed: number;
  unreachable: number;
  slowest?: { node: string; ms: number };
  /** one line: "3 of 4 nodes exit 0 · 1 exit non-zero · slowest n2, 120 ms" */
  text: string;
}

export function summarize(results: readonly ExecResultInfo[]): ExecSummary {
  const count = (o: Outcome) => results.filter((r) => outcome(r) === o).length;
  const ok = count('ok');
  const failed = count('failed');
  const unreachable = count('unreachable');
  const ran = results.filter((r) => !r.error);
  const slowest = ran.reduce<{ node: string; ms: number } | undefined>((s, r) => (!s || r.ms > s.ms ? { node: r.node, ms: r.ms } : s), undefined);
  const parts = [`${ok} of ${results.length} node${results.length === 1 ? '' : 's'} exit 0`];
  if (failed) parts.push(`${failed} exit non-zero`);
  if (unreachable) parts.push(`${unreachable} not reached`);
  if (slowest && ran.length > 1) parts.push(`slowest ${slowest.node}, ${Math.round(slowest.ms)} ms`);
  return { ok, failed, unreachable, ...(slowest ? { slowest } : {}), text: parts.join(' · ') };
}

/** Failures first (they are what one came to see), then the rest, each in node order. */
export function failuresFirst<T extends Pick<ExecResultInfo, 'code' | 'error' | 'node'>>(results: readonly T[]): T[] {
  const rank: Record<Outcome, number> = { unreachable: 0, failed: 1, ok: 2 };
  return [...results].sort((a, b) => rank[outcome(a)] - rank[outcome(b)] || a.node.localeCompare(b.node, undefined, { numeric: true }));
}

/** Nodes as the picker shows them: checked ones, and whether that is every node. */
export function toggleNode(checked: readonly string[], node: string, all: readonly string[]): string[] {
  const set = new Set(checked);
  if (set.has(node)) set.delete(node); else set.add(node);
  return all.filter((n) => set.has(n));
}

/** The nodes that host the VMs selected in the topology ("vc/vm" keys), in node order. */
export function nodesOfSelection(selection: readonly string[], hostOf: (key: string) => string | undefined, all: readonly string[]): string[] {
  const hosts = new Set(selection.map(hostOf).filter((n): n is string => !!n));
  return all.filter((n) => hosts.has(n));
}

/** What exec.run is asked: 'all' when every node is checked, so nodes added since are included. */
export function target(checked: readonly string[], all: readonly string[]): 'all' | string[] {
  return checked.length > 0 && checked.length === all.length && all.every((n) => checked.includes(n)) ? 'all' : [...checked];
}

export const MAX_HISTORY = 50;

/** A command run: most recent first, once, bounded. Blank commands are not remembered. */
export function pushHistory(history: readonly string[], command: string): string[] {
  const c = command.trim();
  if (!c) return [...history];
  return [c, ...history.filter((h) => h !== c)].slice(0, MAX_HISTORY);
}

/**
 * Up and Down in the command field walk the history as a shell does: `at` is -1 while editing
 * a new command (kept in `draft`), 0 for the most recent one.
 */
export function walkHistory(history: readonly string[], at: number, key: 'ArrowUp' | 'ArrowDown', draft: string): { at: number; text: string } {
  const next = key === 'ArrowUp' ? Math.min(at + 1, history.length - 1) : Math.max(at - 1, -1);
  if (history.length === 0) return { at: -1, text: draft };
  return { at: next, text: next === -1 ? draft : history[next]! };
}
