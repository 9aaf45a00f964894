import { describe, expect, it } from 'vitest';
import { planComplete, planEvacuation, type EvacuatingVm } from '../../main/placement/evacuate.js';
import type { PlaceNode } from '../../main/placement/place.js';

const node = (name: string, usedCores = 0, usedMemMb = 0, alive = true, cores = 4, memMb = 4096): PlaceNode =>
  ({ name, cores, memMb, usedCores, usedMemMb, alive });
const vm = (vc: string, name: string, state = 'running', extra: Partial<EvacuatingVm> = {}): EvacuatingVm =>
  ({ vc, vm: name, state, vcpus: 1, memMb: 512, policy: 'block', mode: 'strict', ...extra });
const short = (steps: ReturnType<typeof planEvacuation>) => steps.map((s) => `${s.vc}/${s.vm} ${s.action}${s.to ? ` ${s.to}` : ''}`);

describe('planEvacuation', () => {
  // n1 is emptied; its own use is left out (what runs there is what moves).
  const nodes = [node('n1', 2, 1024), node('n2'), node('n3'), node('n4')];

  it('block keeps a VC together on the first node with room; cyclic spreads it', () => {
    expect(short(planEvacuation('n1', [vm('a', 'vm1'), vm('a', 'vm2')], nodes, 'live'))).toEqual(['a/vm1 live n2', 'a/vm2 live n2']);
    const cyc = [vm('b', 'vm1', 'running', { policy: 'cyclic' }), vm('b', 'vm2', 'running', { policy: 'cyclic' }), vm('b', 'vm3', 'running', { policy: 'cyclic' })];
    expect(short(planEvacuation('n1', cyc, nodes, 'live'))).toEqual(['b/vm1 live n2', 'b/vm2 live n3', 'b/vm3 live n4']);
  });

  it('counts what earlier VCs of the same evacuation took', () => {
    const big = (vc: string, n: string) => vm(vc, n, 'running', { vcpus: 4, memMb: 1024 });
    expect(short(planEvacuation('n1', [big('a', 'vm1'), big('b', 'vm1'), big('c', 'vm1')], nodes, 'live')))
      .toEqual(['a/vm1 live n2', 'b/vm1 live n3', 'c/vm1 live n4']);
  });

  it('never chooses a node that is not alive (down, unreachable, in maintenance)', () => {
    const some = [node('n1'), node('n2', 0, 0, false), node('n3')];
    expect(short(planEvacuation('n1', [vm('a', 'vm1')], some, 'live'))).toEqual(['a/vm1 live n3']);
  });

  it('refuses what fits nowhere with placement\'s own message, and still moves the rest', () => {
    const tight = [node('n1'), node('n2', 3, 0)];
    const steps = planEvacuation('n1', [vm('a', 'vm1'), vm('a', 'vm2')], tight, 'live');
    expect(short(steps)).toEqual(['a/vm1 live n2', 'a/vm2 refuse']);
    expect(steps[1]!.reason).toBe('a/vm2 cannot move: strict placement needs 1 free core for 1 VM; only 0 free (n2: 0)');
    expect(planComplete(steps)).toBe(false);
  });

  it('free mode over-commits cores but never memory', () => {
    const tight = [node('n1'), node('n2', 4, 3584)];
    const steps = planEvacuation('n1', [vm('a', 'vm1', 'running', { mode: 'free' }), vm('a', 'vm2', 'running', { mode: 'free' })], tight, 'live');
    expect(short(steps)).toEqual(['a/vm1 live n2', 'a/vm2 refuse']);
    expect(steps[1]!.reason).toBe('a/vm2 cannot move: placement needs 512 MB of memory for 1 VM; only 0 MB free (n2: 0 MB)');
  });

  it('acts by state and mode: saved is remapped, stopped needs nothing, in-between states are refused', () => {
    const vms = [vm('a', 'vm1'), vm('a', 'vm2', 'saved'), vm('a', 'vm3', 'stopped'), vm('a', 'vm4', 'migrating'), vm('a', 'vm5', 'paused')];
    expect(short(planEvacuation('n1', vms, nodes, 'live'))).toEqual(['a/vm3 none', 'a/vm4 refuse', 'a/vm5 refuse', 'a/vm1 live n2', 'a/vm2 remap n2']);
    expect(short(planEvacuation('n1', vms, nodes, 'cold'))).toContain('a/vm1 cold n2');
    expect(short(planEvacuation('n1', vms, nodes, 'stop'))).toEqual(['a/vm1 stop', 'a/vm3 none', 'a/vm4 refuse', 'a/vm5 refuse', 'a/vm2 remap n2']);
    const r = planEvacuation('n1', vms, nodes, 'live').find((s) => s.vm === 'vm4')!;
    expect(r.reason).toBe('a/vm4 is migrating: wait until it settles, then evacuate again');
  });

  it('says what each action does', () => {
    const [s] = planEvacuation('n1', [vm('a', 'vm1')], nodes, 'live');
    expect(s).toEqual({ vc: 'a', vm: 'vm1', from: 'n1', to: 'n2', action: 'live', reason: 'a/vm1 is live-migrated from n1 to n2: it keeps running, with the same address' });
  });

  it('an empty node has an empty, complete plan; an unknown node is an error', () => {
    expect(planEvacuation('n1', [], nodes, 'live')).toEqual([]);
    expect(planComplete([])).toBe(true);
    expect(() => planEvacuation('n9', [], nodes, 'live')).toThrow('n9 is not a node of this cluster');
  });

  it('with no other live node, every running VM is refused', () => {
    const steps = planEvacuation('n1', [vm('a', 'vm1')], [node('n1'), node('n2', 0, 0, false)], 'live');
    expect(steps[0]!.action).toBe('refuse');
    expect(steps[0]!.reason).toMatch(/^a\/vm1 cannot move: /);
  });
});

describe('planEvacuation with a fallback (the CLI\'s --fallback, the dialog\'s choice)', () => {
  const nodes = [node('n1'), node('n2'), node('n3')];

  it('each live step carries what happens if its migration fails, in its reason too', () => {
    const [cold] = planEvacuation('n1', [vm('a', 'vm1')], nodes, 'live', 'cold');
    expect(cold).toEqual({
      vc: 'a', vm: 'vm1', from: 'n1', to: 'n2', action: 'live', fallback: 'cold',
      reason: 'a/vm1 is live-migrated from n1 to n2: it keeps running, with the same address; if the live migration fails, it is stopped on n1 and started on n2 (a reboot)',
    });
    const [stop] = planEvacuation('n1', [vm('a', 'vm1')], nodes, 'live', 'stop');
    expect(stop).toMatchObject({ action: 'live', to: 'n2', fallback: 'stop' });
    expect(stop!.reason).toMatch(/if the live migration fails, it is stopped and stays stopped$/);
    // none: no fallback field, the reason as before
    expect(planEvacuation('n1', [vm('a', 'vm1')], nodes, 'live', 'none')[0]).not.toHaveProperty('fallback');
    // cold and stop steps never carry one: they do not migrate
    expect(planEvacuation('n1', [vm('a', 'vm1')], nodes, 'cold', 'stop')[0]).not.toHaveProperty('fallback');
  });

  it('stop turns a running VM that fits nowhere from refused into stopped; cold cannot help it', () => {
    const tight = [node('n1'), node('n2', 3, 0)];
    const vms = [vm('a', 'vm1'), vm('a', 'vm2')];
    expect(short(planEvacuation('n1', vms, tight, 'live', 'none'))).toEqual(['a/vm1 live n2', 'a/vm2 refuse']);
    expect(short(planEvacuation('n1', vms, tight, 'live', 'cold'))).toEqual(['a/vm1 live n2', 'a/vm2 refuse']);
    const stopped = planEvacuation('n1', vms, tight, 'live', 'stop');
    expect(short(stopped)).toEqual(['a/vm1 live n2', 'a/vm2 stop']);
    expect(stopped[1]!.reason).toBe('a/vm2 cannot move (strict placement needs 1 free core for 1 VM; only 0 free (n2: 0)): it is stopped instead (fallback) and placed elsewhere when its VC starts');
    expect(planComplete(stopped)).toBe(true);
    // the same in cold mode
    expect(short(planEvacuation('n1', vms, tight, 'cold', 'stop'))).toEqual(['a/vm1 cold n2', 'a/vm2 stop']);
  });

  it('a saved VM that fits nowhere, and one in between states, stay refused whatever the fallback', () => {
    const tight = [node('n1'), node('n2', 4, 0)];
    expect(short(planEvacuation('n1', [vm('a', 'vm1', 'saved'), vm('a', 'vm2', 'migrating')], tight, 'live', 'stop'))).toEqual(['a/vm2 refuse', 'a/vm1 refuse']);
  });
});
