import { describe, expect, test } from 'vitest';
import {
  decideRecovery, MIGRATE_STATES, SIDE_STATES, sideFromRunState, targetMayHaveRun, type Observed, type RecoveryPlan,
} from '../../main/vm/migrationRecovery.js';

/**
 * Every combination of source state × target state × the source's migration status, with
 * and without "stuck" (waited long enough): the rules that must hold for all of them, then
 * the named cases of issue 14 row by row.
 */
const all: Observed[] = [];
for (const source of SIDE_STATES) {
  for (const target of SIDE_STATES) {
    for (const migration of MIGRATE_STATES) {
      for (const stuck of [false, true]) all.push({ source, target, migration, stuck });
    }
  }
}
const label = (o: Observed) => `source ${o.source}, target ${o.target}, migrate ${o.migration}${o.stuck ? ', stuck' : ''}`;
const cases = all.map((o) => [label(o), o, decideRecovery(o)] as const);

describe('every combination', () => {
  test('the table is complete: 9 × 9 × 11 × 2', () => {
    expect(all.length).toBe(9 * 9 * 11 * 2);
    expect(new Set(all.map(label)).size).toBe(all.length);
  });

  test.each(cases)('%s: never resumes a source whose target may have run', (_l, o, plan) => {
    if (plan.kind === 'source' && plan.contSource) expect(targetMayHaveRun(o)).toBe(false);
    // Stronger: whenever the target may have run, the source is only ever stopped or left alone.
    if (targetMayHaveRun(o)) expect(plan.kind === 'source' && plan.contSource).toBe(false);
  });

  test.each(cases)('%s: at most one copy runs afterwards', (_l, o, plan) => {
    const targetRuns = (o.target === 'running' && !(plan.kind === 'source' && plan.stopTarget) && !(plan.kind === 'lost' && plan.stopTarget))
      || (plan.kind === 'target' && plan.contTarget);
    const sourceRuns = (o.source === 'running' && !(plan.kind === 'target' && plan.stopSource) && !(plan.kind === 'lost' && plan.stopSource))
      || (plan.kind === 'source' && plan.contSource);
    // 'manual' touches nothing: what runs stays as it was (both running is the one case reported, never made).
    if (plan.kind !== 'manual') expect(targetRuns && sourceRuns).toBe(false);
  });

  test.each(cases)('%s: acts only on a side that is there, and says why', (_l, o, plan) => {
    expect(plan.why.length).toBeGreaterThan(10);
    const there = (s: string) => s !== 'missing' && s !== 'unreachable';
    if ((plan.kind === 'target' || plan.kind === 'lost') && plan.stopSource) expect(there(o.source)).toBe(true);
    if ((plan.kind === 'source' || plan.kind === 'lost') && plan.stopTarget) expect(there(o.target)).toBe(true);
    if (plan.kind === 'source' && plan.contSource) expect(['prelaunch', 'paused', 'finish-migrate', 'postmigrate']).toContain(o.source);
    if (plan.kind === 'target' && plan.contTarget) expect(['paused', 'prelaunch']).toContain(o.target);
    if (plan.kind === 'source' && plan.cancelMigration) expect(['setup', 'active', 'device', 'pre-switchover', 'wait-unplug', 'cancelling']).toContain(o.migration);
  });

  test.each(cases)('%s: waits only while not stuck, so recovery ends', (_l, o, plan) => {
    if (o.stuck) expect(plan.kind).not.toBe('wait');
  });

  test.each(cases)('%s: a running target is always kept', (_l, o, plan) => {
    if (o.target === 'running' && o.source !== 'running' && o.migration !== 'postcopy-active') expect(plan).toMatchObject({ kind: 'target', contTarget: false });
  });

  test.each(cases)('%s: a source that never stopped keeps the guest unless it runs twice', (_l, o, plan) => {
    if (o.source === 'running' && o.migration !== 'postcopy-active' && o.target !== 'running' && o.target !== 'paused' && o.target !== 'prelaunch'
      && o.target !== 'finish-migrate' && o.target !== 'postmigrate') {
      expect(['source', 'wait']).toContain(plan.kind);
    }
  });
});

describe('the cases of issue 14', () => {
  const at = (source: Observed['source'], migration: Observed['migration'], target: Observed['target'], stuck = false): RecoveryPlan =>
    decideRecovery({ source, migration, target, stuck });

  test.each([
    // target running, source postmigrate: completed; keep target, stop source
    ['completed move', at('postmigrate', 'completed', 'running'), { kind: 'target', contTarget: false, stopSource: true }],
    ['completed, source already halted', at('missing', 'none', 'running'), { kind: 'target', stopSource: false }],
    ['completed, source node down', at('unreachable', 'none', 'running'), { kind: 'target', stopSource: false }],
    // target inmigrate or missing, source running or paused by the migration: not completed
    ['target launched, migrate never sent', at('running', 'none', 'inmigrate'), { kind: 'source', stopTarget: true, contSource: false }],
    ['migration failed, source resumed itself', at('running', 'failed', 'inmigrate'), { kind: 'source', stopTarget: true, contSource: false }],
    ['migration cancelled, paused source', at('paused', 'cancelled', 'inmigrate'), { kind: 'source', stopTarget: true, contSource: true }],
    ['failed in the last stage: postmigrate', at('postmigrate', 'failed', 'inmigrate'), { kind: 'source', stopTarget: true, contSource: true }],
    ['failed, target already gone', at('postmigrate', 'failed', 'missing'), { kind: 'source', stopTarget: false, contSource: true }],
    ['failed in finish-migrate', at('finish-migrate', 'failed', 'missing'), { kind: 'source', contSource: true }],
    ['a user-paused source stays paused', at('paused', 'none', 'missing'), { kind: 'source', contSource: false }],
    ['a start killed before cont', at('prelaunch', 'none', 'missing'), { kind: 'source', contSource: true }],
    // in flight
    ['still streaming', at('running', 'active', 'inmigrate'), { kind: 'wait' }],
    ['streaming for too long', at('running', 'active', 'inmigrate', true), { kind: 'source', cancelMigration: true, stopTarget: true, contSource: false }],
    ['streaming to a target that is gone', at('running', 'active', 'missing'), { kind: 'source', cancelMigration: true, stopTarget: false }],
    ['source completed, target still loading', at('postmigrate', 'completed', 'inmigrate'), { kind: 'wait' }],
    // never resume a source whose target may have run
    ['source completed, target gone since', at('postmigrate', 'completed', 'missing'), { kind: 'lost', stopSource: true }],
    ['source completed, target node down', at('postmigrate', 'completed', 'unreachable'), { kind: 'target', stopSource: true }],
    ['target loaded but paused', at('postmigrate', 'completed', 'paused'), { kind: 'target', contTarget: true, stopSource: true }],
    ['target ran and broke', at('postmigrate', 'completed', 'broken'), { kind: 'lost', stopSource: true, stopTarget: true }],
    ['source completed, target stuck loading', at('postmigrate', 'completed', 'inmigrate', true), { kind: 'manual' }],
    // unknowable
    ['source node down, target loading', at('unreachable', 'none', 'inmigrate'), { kind: 'manual' }],
    ['both running', at('running', 'completed', 'running'), { kind: 'manual' }],
    ['target loaded and paused, source running', at('running', 'completed', 'paused'), { kind: 'manual' }],
    ['postcopy with the target running', at('postmigrate', 'postcopy-active', 'running'), { kind: 'wait' }],
    ['postcopy that lost its target', at('postmigrate', 'postcopy-active', 'missing'), { kind: 'manual' }],
    ['nothing anywhere', at('missing', 'none', 'missing'), { kind: 'lost', stopSource: false, stopTarget: false }],
  ])('%s', (_what, plan, want) => {
    expect(plan).toMatchObject(want);
  });
});

describe('QMP run states', () => {
  test.each([
    ['running', 'running'], ['paused', 'paused'], ['postmigrate', 'postmigrate'], ['inmigrate', 'inmigrate'],
    ['finish-migrate', 'finish-migrate'], ['prelaunch', 'prelaunch'], ['suspended', 'paused'], ['restore-vm', 'paused'],
    ['internal-error', 'broken'], ['guest-panicked', 'broken'], ['shutdown', 'broken'], ['io-error', 'broken'], ['something-new', 'broken'],
  ])('%s → %s', (status, side) => {
    expect(sideFromRunState(status)).toBe(side);
  });
});
