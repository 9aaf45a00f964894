import { describe, expect, it } from 'vitest';
import { renderEvacuationPlan } from '../../main/cli/node.js';
import { renderHealthTable } from '../../main/cli/nodes.js';

describe('vlx node evacuate: the plan as printed', () => {
  it('lists each VM with its action, target and why; refused ones are counted', () => {
    const out = renderEvacuationPlan({
      node: 'n1', mode: 'live', fallback: 'none', complete: false,
      steps: [
        { vc: 'web', vm: 'vm1', from: 'n1', to: 'n2', action: 'live', reason: 'web/vm1 is live-migrated from n1 to n2: it keeps running, with the same address' },
        { vc: 'web', vm: 'vm2', from: 'n1', action: 'refuse', reason: 'web/vm2 cannot move: placement needs 512 MB of memory for 1 VM; only 0 MB free (n2: 0 MB)' },
      ],
    });
    expect(out).toBe([
      'Evacuating n1 (mode live):',
      'VM       ACTION   TARGET  WHY',
      'web/vm1  live     n2      web/vm1 is live-migrated from n1 to n2: it keeps running, with the same address',
      'web/vm2  REFUSED  -       web/vm2 cannot move: placement needs 512 MB of memory for 1 VM; only 0 MB free (n2: 0 MB)',
      '1 VM would not move (REFUSED above); the others would.',
      '',
    ].join('\n'));
  });

  it('says so when the node runs nothing', () => {
    expect(renderEvacuationPlan({ node: 'n3', mode: 'cold', fallback: 'none', complete: true, steps: [] })).toBe('n3 runs no VM: evacuating it only puts it in maintenance.\n');
  });
});

describe('vlx nodes --watch: the health table', () => {
  it('shows state, probe, lease and why, with the VMs an evacuation left behind', () => {
    const out = renderHealthTable([
      { name: 'n1', state: 'up', reason: 'answers', admin: 'active', reachable: true, confirmedDown: false, latencyMs: 4, leaseLeftS: 9.5 },
      { name: 'n2', state: 'down', reason: 'no answer and its lease expired', admin: 'active', reachable: false, confirmedDown: true, leaseLeftS: -6.2 },
      { name: 'n3', state: 'maintenance', reason: 'in maintenance', admin: 'maintenance', reachable: true, confirmedDown: false, latencyMs: 5,
        evacuation: { failed: [{ vc: 'web', vm: 'vm2', reason: 'no room' }] } },
    ]);
    expect(out.split('\n')).toEqual([
      'NODE  HEALTH       PROBE      LEASE              WHY',
      'n1    up           4 ms       9.5 s left         answers',
      'n2    down         no answer  expired 6.2 s ago  no answer and its lease expired',
      'n3    maintenance  5 ms       none               in maintenance; not moved: web/vm2',
      '',
    ]);
  });
});
