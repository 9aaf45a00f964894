import { describe, expect, it } from 'vitest';
import { outcome } from '../support/outcome.js';
import { VlxError } from '../../main/errors.js';
import {
  checkMove, moveRefusal, nodeLoad, place, previewPlacement,
  type Mode, type PlaceNode, type PlaceVm, type Policy,
} from '../../main/placement/place.js';

/** Nodes n1..nN with the same capacity; `used` and `dead` adjust single nodes. */
function nodes(
  count: number,
  cores: number,
  memMb: number,
  adjust: Record<string, Partial<PlaceNode>> = {},
): PlaceNode[] {
  return Array.from({ length: count }, (_, i) => {
    const name = `n${i + 1}`;
    return { name, cores, memMb, usedCores: 0, usedMemMb: 0, alive: true, ...adjust[name] };
  });
}

function vc(count: number, vcpus: number, memMb: number): PlaceVm[] {
  return Array.from({ length: count }, (_, i) => ({ name: `vm${i + 1}`, vcpus, memMb }));
}

/** vm1..vmN mapped to the listed nodes in order. */
function onto(...targets: string[]): Record<string, string> {
  return Object.fromEntries(targets.map((t, i) => [`vm${i + 1}`, t]));
}


const placementError = (message: string) => ({ code: 'placement', message });

interface Scenario {
  name: string;
  nodes: PlaceNode[];
  vms: PlaceVm[];
  policy: Policy;
  mode: Mode;
  pinned?: Record<string, string>;
  expect: Record<string, string> | { code: string; message: string };
}

// Scenarios in the manner of pve-ha-manager's test-crs folders: environment, request,
// and the exact outcome, mapping or message.
const fourByFour = nodes(4, 4, 4096);
const scenarios: Scenario[] = [
  // The report's worked examples (section 5.3).
  { name: 'report: block puts 4 single-vCPU VMs on one 4-core node', nodes: fourByFour, vms: vc(4, 1, 256), policy: 'block', mode: 'strict', expect: onto('n1', 'n1', 'n1', 'n1') },
  { name: 'report: cyclic puts one on each of four nodes', nodes: fourByFour, vms: vc(4, 1, 256), policy: 'cyclic', mode: 'strict', expect: onto('n1', 'n2', 'n3', 'n4') },
  { name: 'report examples hold in free mode', nodes: fourByFour, vms: vc(4, 1, 256), policy: 'block', mode: 'free', expect: onto('n1', 'n1', 'n1', 'n1') },
  { name: 'cyclic free: one per node', nodes: fourByFour, vms: vc(4, 1, 256), policy: 'cyclic', mode: 'free', expect: onto('n1', 'n2', 'n3', 'n4') },
  { name: 'block fills a node before the next', nodes: fourByFour, vms: vc(8, 1, 256), policy: 'block', mode: 'strict', expect: onto('n1', 'n1', 'n1', 'n1', 'n2', 'n2', 'n2', 'n2') },
  { name: 'cyclic wraps round', nodes: fourByFour, vms: vc(6, 1, 256), policy: 'cyclic', mode: 'strict', expect: onto('n1', 'n2', 'n3', 'n4', 'n1', 'n2') },
  { name: 'block with 2-vCPU VMs: two per 4-core node', nodes: fourByFour, vms: vc(4, 2, 256), policy: 'block', mode: 'strict', expect: onto('n1', 'n1', 'n2', 'n2') },
  { name: 'strict fills every core exactly', nodes: fourByFour, vms: vc(8, 2, 256), policy: 'cyclic', mode: 'strict', expect: onto('n1', 'n2', 'n3', 'n4', 'n1', 'n2', 'n3', 'n4') },
  { name: 'block skips a node whose cores are taken', nodes: nodes(3, 4, 4096, { n1: { usedCores: 4 } }), vms: vc(2, 1, 256), policy: 'block', mode: 'strict', expect: onto('n2', 'n2') },
  { name: 'cyclic skips a full node and moves on', nodes: nodes(3, 4, 4096, { n1: { usedCores: 3 } }), vms: vc(4, 1, 256), policy: 'cyclic', mode: 'strict', expect: onto('n1', 'n2', 'n3', 'n2') },
  { name: 'heterogeneous nodes, block', nodes: [...nodes(1, 2, 4096), { name: 'n2', cores: 8, memMb: 8192, usedCores: 0, usedMemMb: 0, alive: true }], vms: vc(6, 1, 256), policy: 'block', mode: 'strict', expect: onto('n1', 'n1', 'n2', 'n2', 'n2', 'n2') },
  // Over-commit.
  { name: 'strict refuses 20 vCPUs on 16 cores', nodes: fourByFour, vms: vc(20, 1, 128), policy: 'block', mode: 'strict', expect: placementError('strict placement needs 20 free cores for 20 VMs; only 16 free (n1: 4, n2: 4, n3: 4, n4: 4)') },
  { name: 'strict names the shortfall with cores in use', nodes: nodes(4, 4, 4096, { n1: { usedCores: 3 }, n2: { usedCores: 3 }, n3: { usedCores: 4 }, n4: { usedCores: 4 } }), vms: vc(4, 1, 256), policy: 'cyclic', mode: 'strict', expect: placementError('strict placement needs 4 free cores for 4 VMs; only 2 free (n1: 1, n2: 1, n3: 0, n4: 0)') },
  { name: 'strict counts an over-committed node as 0 free', nodes: nodes(2, 4, 4096, { n1: { usedCores: 9 } }), vms: vc(5, 1, 256), policy: 'block', mode: 'strict', expect: placementError('strict placement needs 5 free cores for 5 VMs; only 4 free (n1: 0, n2: 4)') },
  { name: 'singular wording', nodes: nodes(1, 1, 4096, { n1: { usedCores: 1 } }), vms: vc(1, 1, 256), policy: 'block', mode: 'strict', expect: placementError('strict placement needs 1 free core for 1 VM; only 0 free (n1: 0)') },
  { name: 'free over-commits cores: block keeps filling n1 while memory lasts', nodes: fourByFour, vms: vc(20, 1, 256), policy: 'block', mode: 'free', expect: onto(...Array(16).fill('n1'), 'n2', 'n2', 'n2', 'n2') },
  { name: 'free over-commits cores: cyclic spreads evenly', nodes: fourByFour, vms: vc(8, 4, 256), policy: 'cyclic', mode: 'free', expect: onto('n1', 'n2', 'n3', 'n4', 'n1', 'n2', 'n3', 'n4') },
  { name: 'free ignores cores already over-committed', nodes: nodes(2, 4, 4096, { n1: { usedCores: 12 }, n2: { usedCores: 12 } }), vms: vc(2, 1, 256), policy: 'block', mode: 'free', expect: onto('n1', 'n1') },
  { name: 'strict: enough cores in total but none with 2 on one node', nodes: nodes(4, 4, 4096, { n1: { usedCores: 3 }, n2: { usedCores: 3 }, n3: { usedCores: 3 }, n4: { usedCores: 3 } }), vms: vc(2, 2, 256), policy: 'block', mode: 'strict', expect: placementError('strict placement: vm1 needs 2 free cores on one node; the most on a live node is 1 (n1: 1, n2: 1, n3: 1, n4: 1)') },
  { name: 'strict: cores and memory on different nodes', nodes: [{ name: 'n1', cores: 4, memMb: 4096, usedCores: 0, usedMemMb: 3996, alive: true }, { name: 'n2', cores: 4, memMb: 4096, usedCores: 4, usedMemMb: 0, alive: true }], vms: vc(1, 1, 512), policy: 'cyclic', mode: 'strict', expect: placementError('strict placement: no live node has both 1 free core and 512 MB of free memory for vm1 (n1: 4 cores, 100 MB, n2: 0 cores, 4096 MB)') },
  { name: 'a list longer than eight nodes is cut', nodes: nodes(10, 1, 4096, Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`n${i + 1}`, { usedCores: 1 }]))), vms: vc(1, 1, 256), policy: 'block', mode: 'strict', expect: placementError('strict placement needs 1 free core for 1 VM; only 0 free (n1: 0, n2: 0, n3: 0, n4: 0, n5: 0, n6: 0, n7: 0, n8: 0, …)') },
  // Memory is always checked.
  { name: 'memory: a VM larger than any node', nodes: fourByFour, vms: vc(1, 1, 8192), policy: 'block', mode: 'free', expect: placementError('placement: vm1 needs 8192 MB of memory; the largest free memory on a live node is 4096 MB (n1)') },
  { name: 'memory: the largest free memory is named, not the largest node', nodes: nodes(3, 4, 4096, { n1: { usedMemMb: 4000 }, n2: { usedMemMb: 1000 }, n3: { usedMemMb: 2000 } }), vms: vc(1, 1, 3500), policy: 'block', mode: 'strict', expect: placementError('placement: vm1 needs 3500 MB of memory; the largest free memory on a live node is 3096 MB (n2)') },
  { name: 'memory: the VC as a whole does not fit', nodes: fourByFour, vms: vc(4, 1, 5000), policy: 'cyclic', mode: 'free', expect: placementError('placement needs 20000 MB of memory for 4 VMs; only 16384 MB free (n1: 4096 MB, n2: 4096 MB, n3: 4096 MB, n4: 4096 MB)') },
  { name: 'memory: free mode still moves on when a node is full', nodes: nodes(2, 4, 1024), vms: vc(3, 1, 512), policy: 'block', mode: 'free', expect: onto('n1', 'n1', 'n2') },
  { name: 'memory: cyclic skips a node without room', nodes: nodes(3, 4, 1024, { n2: { usedMemMb: 900 } }), vms: vc(3, 1, 512), policy: 'cyclic', mode: 'free', expect: onto('n1', 'n3', 'n1') },
  // Dead nodes are never chosen.
  { name: 'block skips a dead first node', nodes: nodes(4, 4, 4096, { n1: { alive: false } }), vms: vc(4, 1, 256), policy: 'block', mode: 'strict', expect: onto('n2', 'n2', 'n2', 'n2') },
  { name: 'cyclic deals over live nodes only', nodes: nodes(4, 4, 4096, { n2: { alive: false } }), vms: vc(4, 1, 256), policy: 'cyclic', mode: 'strict', expect: onto('n1', 'n3', 'n4', 'n1') },
  { name: 'dead nodes do not count as free cores', nodes: nodes(2, 4, 4096, { n2: { alive: false } }), vms: vc(6, 1, 256), policy: 'cyclic', mode: 'strict', expect: placementError('strict placement needs 6 free cores for 6 VMs; only 4 free (n1: 4); n2 is down') },
  { name: 'no live node at all', nodes: nodes(2, 4, 4096, { n1: { alive: false }, n2: { alive: false } }), vms: vc(4, 1, 256), policy: 'block', mode: 'free', expect: placementError('placement: no live node to place 4 VMs on; down: n1, n2') },
  // Pinned VMs.
  { name: 'pinned VM goes where it is pinned, the rest deal on', nodes: fourByFour, vms: vc(4, 1, 256), policy: 'cyclic', mode: 'strict', pinned: { vm1: 'n3' }, expect: onto('n3', 'n1', 'n2', 'n3') },
  { name: 'pinned VMs use up room before the rest are placed', nodes: nodes(2, 2, 4096), vms: vc(3, 1, 256), policy: 'block', mode: 'strict', pinned: { vm3: 'n1', vm2: 'n1' }, expect: { vm2: 'n1', vm3: 'n1', vm1: 'n2' } },
  { name: 'pinned to an unknown node', nodes: fourByFour, vms: vc(2, 1, 256), policy: 'block', mode: 'strict', pinned: { vm1: 'n9' }, expect: placementError('placement: vm1 is pinned to n9, which is not a node of this cluster') },
  { name: 'pinned to a dead node', nodes: nodes(2, 4, 4096, { n2: { alive: false } }), vms: vc(2, 1, 256), policy: 'block', mode: 'strict', pinned: { vm2: 'n2' }, expect: placementError('placement: vm2 is pinned to n2, which is down') },
  { name: 'pinned without memory', nodes: nodes(2, 4, 4096, { n2: { usedMemMb: 4000 } }), vms: vc(2, 1, 256), policy: 'block', mode: 'free', pinned: { vm2: 'n2' }, expect: placementError('placement: vm2 is pinned to n2, which has 96 MB of free memory; it needs 256 MB') },
  { name: 'pinned without cores in strict mode', nodes: nodes(2, 4, 4096, { n2: { usedCores: 4 } }), vms: vc(2, 1, 256), policy: 'block', mode: 'strict', pinned: { vm2: 'n2' }, expect: placementError('strict placement: vm2 is pinned to n2, which has 0 free cores; it needs 1') },
  { name: 'pinned over-commit allowed in free mode', nodes: nodes(2, 4, 4096, { n2: { usedCores: 4 } }), vms: vc(2, 1, 256), policy: 'block', mode: 'free', pinned: { vm2: 'n2' }, expect: onto('n1', 'n2') },
  { name: 'an empty VC maps to nothing', nodes: fourByFour, vms: [], policy: 'cyclic', mode: 'strict', expect: {} },
];

describe('place: scenarios', () => {
  it.each(scenarios)('$name', (s) => {
    const got = outcome(() => place(s.vms, s.nodes, s.policy, s.mode, { pinned: s.pinned }).mapping);
    expect(got).toEqual(s.expect);
  });
});

describe('place: exhaustive grid of identical VMs', () => {
  // Every combination below: the mapping must respect every rule, and a refusal must
  // happen exactly when the VC cannot fit (identical VMs fit iff the per-node capacities
  // add up), so greedy placement never refuses a VC that fits.
  const grid: Array<[number, number, number, number, number, Policy, Mode, number]> = [];
  for (const nodeCount of [1, 2, 3, 4])
    for (const cores of [1, 2, 4])
      for (const used of [0, 1, 3])
        for (const vmCount of [0, 1, 2, 3, 5, 8, 13])
          for (const vcpus of [1, 2, 3])
            for (const policy of ['block', 'cyclic'] as const)
              for (const mode of ['strict', 'free'] as const)
                for (const deadMask of [0, 1, 5])
                  grid.push([nodeCount, cores, used, vmCount, vcpus, policy, mode, deadMask]);

  it(`holds on ${grid.length} combinations`, () => {
    for (const [nodeCount, cores, used, vmCount, vcpus, policy, mode, deadMask] of grid) {
      // Node i has `used` cores and i*300 MB in use; memory per node 2048; VM 500 MB.
      const ns = Array.from({ length: nodeCount }, (_, i) => ({
        name: `n${i + 1}`, cores, memMb: 2048, usedCores: i % 2 === 0 ? used : 0, usedMemMb: i * 300, alive: ((deadMask >> i) & 1) === 0,
      }));
      const vms = vc(vmCount, vcpus, 500);
      const capacity = ns.filter((n) => n.alive).reduce((s, n) => {
        const byMem = Math.floor((n.memMb - n.usedMemMb) / 500);
        const byCores = mode === 'strict' ? Math.floor(Math.max(0, n.cores - n.usedCores) / vcpus) : Infinity;
        return s + Math.min(byMem, byCores);
      }, 0);
      const ctx = JSON.stringify({ nodeCount, cores, used, vmCount, vcpus, policy, mode, deadMask });
      let mapping: Record<string, string>;
      try {
        mapping = place(vms, ns, policy, mode).mapping;
      } catch (e) {
        expect((e as VlxError).code, ctx).toBe('placement');
        expect(vmCount > capacity, ctx).toBe(true);
        continue;
      }
      expect(vmCount <= capacity, ctx).toBe(true);
      expect(Object.keys(mapping).sort(), ctx).toEqual(vms.map((v) => v.name).sort());
      for (const l of nodeLoad(vms, ns, mapping)) {
        if (l.added.length === 0) continue;
        expect(l.alive, ctx).toBe(true);
        expect(l.usedMemMb, ctx).toBeLessThanOrEqual(l.memMb);
        if (mode === 'strict') {
          const before = ns.find((n) => n.name === l.name)!.usedCores;
          expect(l.usedCores - before, ctx).toBeLessThanOrEqual(Math.max(0, l.cores - before));
        }
      }
      expect(place(vms, ns, policy, mode).mapping, `deterministic ${ctx}`).toEqual(mapping);
    }
  });

  it('block uses a prefix of the live nodes and cyclic spreads within one VM of even', () => {
    const ns = nodes(5, 64, 1 << 20);
    for (let n = 1; n <= 40; n++) {
      const vms = vc(n, 1, 100);
      const block = new Set(Object.values(place(vms, ns, 'block', 'strict').mapping));
      expect([...block]).toEqual(['n1']);
      const counts = nodeLoad(vms, ns, place(vms, ns, 'cyclic', 'strict').mapping).map((l) => l.added.length);
      expect(Math.max(...counts) - Math.min(...counts)).toBeLessThanOrEqual(1);
    }
  });
});

describe('place: bad input', () => {
  const ok = nodes(1, 4, 4096);
  it.each([
    ['policy', () => place(vc(1, 1, 64), ok, 'spread' as Policy, 'strict'), 'policy: must be block or cyclic (got "spread")'],
    ['mode', () => place(vc(1, 1, 64), ok, 'block', 'loose' as Mode, {}), 'mode: must be strict or free (got "loose")'],
    ['duplicate VM', () => place([...vc(1, 1, 64), ...vc(1, 1, 64)], ok, 'block', 'strict'), 'VM name: must be unique (got "vm1")'],
    ['duplicate node', () => place(vc(1, 1, 64), [...ok, ...ok], 'block', 'strict'), 'node name: must be unique (got "n1")'],
    ['zero vCPUs', () => place(vc(1, 0, 64), ok, 'block', 'strict'), 'vcpus of vm1: must be a whole number of at least 1 (got 0)'],
    ['fractional memory', () => place(vc(1, 1, 1.5), ok, 'block', 'strict'), 'memory of vm1: must be a whole number of at least 1 (got 1.5)'],
    ['negative use', () => place(vc(1, 1, 64), nodes(1, 4, 4096, { n1: { usedCores: -1 } }), 'block', 'strict'), 'used cores of n1: must be a whole number of at least 0 (got -1)'],
    ['pinned stranger', () => place(vc(1, 1, 64), ok, 'block', 'strict', { pinned: { vm7: 'n1' } }), 'pinned VM: must be one of the VMs being placed (got "vm7")'],
  ])('%s', (_n, fn, message) => {
    expect(outcome(fn)).toEqual({ code: 'invalid-input', message });
  });
});

describe('moveRefusal / checkMove', () => {
  const ns = nodes(4, 4, 4096, {
    n1: { usedCores: 2, usedMemMb: 1024 },
    n2: { usedCores: 4, usedMemMb: 512 },
    n3: { usedMemMb: 3900 },
    n4: { alive: false },
  });
  const vm = { name: 'vm1', vcpus: 2, memMb: 512, node: 'n1' };
  it.each([
    ['n9', 'strict', 'cannot move vm1 to n9: n9 is not a node of this cluster'],
    ['n1', 'strict', 'cannot move vm1 to n1: it already runs there'],
    ['n4', 'free', 'cannot move vm1 to n4: n4 is down'],
    ['n3', 'free', 'cannot move vm1 to n3: n3 has 196 MB of free memory; vm1 needs 512 MB'],
    ['n2', 'strict', 'cannot move vm1 to n2: strict mode and n2 has 0 free cores; vm1 needs 2'],
    ['n2', 'free', null],
  ] as const)('to %s in %s mode', (target, mode, why) => {
    expect(moveRefusal(vm, target, ns, mode)).toBe(why);
    expect(outcome(() => checkMove(vm, target, ns, mode))).toEqual(why === null ? undefined : placementError(why));
  });
  it('a move to a node with room is allowed in strict mode', () => {
    const roomy = nodes(2, 4, 4096, { n1: { usedCores: 2, usedMemMb: 512 } });
    expect(moveRefusal(vm, 'n2', roomy, 'strict')).toBeNull();
  });
});

describe('previewPlacement and nodeLoad', () => {
  it('shows the load each node will carry', () => {
    const ns = nodes(2, 4, 4096, { n2: { usedCores: 1, usedMemMb: 100 } });
    const p = previewPlacement(vc(3, 2, 1000), ns, 'cyclic', 'free');
    expect(p).toEqual({
      ok: true,
      mapping: onto('n1', 'n2', 'n1'),
      load: [
        { name: 'n1', alive: true, cores: 4, memMb: 4096, usedCores: 4, usedMemMb: 2000, added: ['vm1', 'vm3'], overcommitted: false },
        { name: 'n2', alive: true, cores: 4, memMb: 4096, usedCores: 3, usedMemMb: 1100, added: ['vm2'], overcommitted: false },
      ],
    });
  });
  it('flags over-committed cores in free mode', () => {
    const p = previewPlacement(vc(3, 2, 100), nodes(1, 4, 4096), 'block', 'free');
    expect(p.ok && p.load[0]).toMatchObject({ usedCores: 6, overcommitted: true });
  });
  it('returns the refusal and the load as it is', () => {
    const ns = nodes(1, 2, 4096, { n1: { usedCores: 1 } });
    expect(previewPlacement(vc(2, 1, 100), ns, 'block', 'strict')).toEqual({
      ok: false,
      error: 'strict placement needs 2 free cores for 2 VMs; only 1 free (n1: 1)',
      load: [{ name: 'n1', alive: true, cores: 2, memMb: 4096, usedCores: 1, usedMemMb: 0, added: [], overcommitted: false }],
    });
  });
  it('still throws bad input', () => {
    expect(outcome(() => previewPlacement(vc(1, 1, 64), nodes(1, 4, 4096), 'block', 'x' as Mode))).toMatchObject({ code: 'invalid-input' });
  });
  it('refuses a mapping to a node it was not given', () => {
    expect(outcome(() => nodeLoad(vc(1, 1, 64), nodes(1, 4, 4096), { vm1: 'n5' }))).toEqual({
      code: 'invalid-input', message: 'mapping: maps vm1 to a node that is not given (got "n5")',
    });
  });
});
