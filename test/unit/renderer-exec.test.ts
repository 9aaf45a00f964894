import { describe, expect, it } from 'vitest';
import type { ExecResultInfo } from '../../main/api/contract.js';
import { failuresFirst, MAX_HISTORY, nodesOfSelection, outcome, pushHistory, summarize, target, toggleNode, walkHistory } from '../../renderer/src/stores/exec.logic.js';

const r = (node: string, code: number, ms = 10, error?: string): ExecResultInfo => ({
  node, code, stdout: '', stderr: '', ms, ...(error ? { error: { code: 'unreachable', message: error } } : {}),
});

describe('exec results', () => {
  it('tells a clean exit, a non-zero exit and a node not reached apart', () => {
    expect(outcome(r('n1', 0))).toBe('ok');
    expect(outcome(r('n1', 3))).toBe('failed');
    expect(outcome(r('n1', -1, 0, 'timed out'))).toBe('unreachable');
    // An error wins over whatever code came with it.
    expect(outcome(r('n1', 0, 0, 'connection lost'))).toBe('unreachable');
  });

  it('summarises in one line, naming the slowest node that ran', () => {
    const s = summarize([r('n1', 0, 30), r('n2', 0, 120), r('n3', 2, 40), r('n4', -1, 0, 'down')]);
    expect(s).toMatchObject({ ok: 2, failed: 1, unreachable: 1, slowest: { node: 'n2', ms: 120 } });
    expect(s.text).toBe('2 of 4 nodes exit 0 · 1 exit non-zero · 1 not reached · slowest n2, 120 ms');
    expect(summarize([r('n1', 0, 5)]).text).toBe('1 of 1 node exit 0');
    expect(summarize([]).text).toBe('0 of 0 nodes exit 0');
  });

  it('lists failures first, then by node number', () => {
    const order = failuresFirst([r('n10', 0), r('n2', 0), r('n3', 1), r('n9', -1, 0, 'x'), r('n1', 0)]).map((x) => x.node);
    expect(order).toEqual(['n9', 'n3', 'n1', 'n2', 'n10']);
  });
});

describe('choosing nodes', () => {
  const all = ['n1', 'n2', 'n3', 'n4'];

  it('toggles a node and keeps node order', () => {
    expect(toggleNode(['n3'], 'n1', all)).toEqual(['n1', 'n3']);
    expect(toggleNode(['n1', 'n3'], 'n1', all)).toEqual(['n3']);
    expect(toggleNode(['gone'], 'n2', all)).toEqual(['n2']); // a node that left the cluster drops out
  });

  it('takes the hosts of the VMs selected in the topology', () => {
    const host: Record<string, string> = { 'web/vm1': 'n3', 'web/vm2': 'n1', 'db/vm1': 'n3' };
    expect(nodesOfSelection(['web/vm1', 'db/vm1', 'web/vm2', 'new/vm1'], (k) => host[k], all)).toEqual(['n1', 'n3']);
    expect(nodesOfSelection([], (k) => host[k], all)).toEqual([]);
  });

  it('asks for "all" only when every node is ticked', () => {
    expect(target(['n4', 'n3', 'n2', 'n1'], all)).toBe('all');
    expect(target(['n1', 'n2'], all)).toEqual(['n1', 'n2']);
    expect(target([], [])).toEqual([]);
  });
});

describe('command history', () => {
  it('keeps commands most recent first, once, without blanks, bounded', () => {
    expect(pushHistory(['uptime', 'df -h'], 'df -h')).toEqual(['df -h', 'uptime']);
    expect(pushHistory(['uptime'], '   ')).toEqual(['uptime']);
    expect(pushHistory([], '  uname -r ')).toEqual(['uname -r']);
    let h: string[] = [];
    for (let i = 0; i < MAX_HISTORY + 5; i++) h = pushHistory(h, `echo ${i}`);
    expect(h).toHaveLength(MAX_HISTORY);
    expect(h[0]).toBe(`echo ${MAX_HISTORY + 4}`);
  });

  it('walks back and forth as a shell does, returning to the draft', () => {
    const h = ['c3', 'c2', 'c1'];
    let s = walkHistory(h, -1, 'ArrowUp', 'draft');
    expect(s).toEqual({ at: 0, text: 'c3' });
    s = walkHistory(h, s.at, 'ArrowUp', 'draft');
    s = walkHistory(h, s.at, 'ArrowUp', 'draft');
    s = walkHistory(h, s.at, 'ArrowUp', 'draft'); // stops at the oldest
    expect(s).toEqual({ at: 2, text: 'c1' });
    s = walkHistory(h, s.at, 'ArrowDown', 'draft');
    expect(s).toEqual({ at: 1, text: 'c2' });
    s = walkHistory(h, 0, 'ArrowDown', 'draft');
    expect(s).toEqual({ at: -1, text: 'draft' });
    expect(walkHistory([], -1, 'ArrowUp', 'x')).toEqual({ at: -1, text: 'x' });
  });
});
