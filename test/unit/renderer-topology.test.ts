import { beforeEach, describe, expect, it } from 'vitest';
import type { NodeInfo, VcInfo, VmInfo } from '../../main/api/contract.js';
import { CHANNELS } from '../../main/api/contract.js';
import { createDispatch } from '../../main/api/dispatch.js';
import { EventHub } from '../../main/api/events.js';
import { memoryTransport } from '../../main/api/memory.js';
import type { ServiceMethods } from '../../main/api/methods.js';
import { VlxError } from '../../main/errors.js';
import { setTransport } from '../../renderer/src/api.js';
import { dragSet, layoutTopology, planMove, selectChip, vcColour, VC_COLOURS } from '../../renderer/src/stores/topology.logic.js';
import { useTopology } from '../../renderer/src/stores/topology.js';

const node = (name: string, cores = 4, memMb = 4096, state: NodeInfo['state'] = 'up'): NodeInfo =>
  ({ name, address: `10.77.0.${name.slice(1)}`, state, cores, memMb, services: [], inUse: name === 'n1' });
const vm = (vc: string, name: string, nodeName: string | undefined, state: VmInfo['state']): VmInfo =>
  ({ name, vc, ...(nodeName ? { node: nodeName } : {}), state, address: '10.200.0.2', mac: '52:54:00:00:00:01' });
const vcOf = (name: string, vms: VmInfo[], extra: Partial<VcInfo> = {}): VcInfo =>
  ({ name, state: 'running', image: 'tiny', vcpus: 1, memMb: 512, diskGb: 1, swapMb: 0, subnet: '10.200.0.0/24', vms, mode: 'strict', ...extra });

const nodes = [node('n1'), node('n2'), node('n3', 2, 1024), node('n4', 4, 4096, 'down')];

describe('layoutTopology', () => {
  it('puts chips on lanes and counts only VMs that hold resources', () => {
    const l = layoutTopology(nodes, [
      vcOf('web', [vm('web', 'a', 'n1', 'running'), vm('web', 'b', 'n1', 'saved'), vm('web', 'c', 'n2', 'migrating'), vm('web', 'd', undefined, 'stopped')]),
      vcOf('db', [vm('db', 'a', 'n9', 'running')], { vcpus: 2, memMb: 1024 }),
    ]);
    const use = Object.fromEntries(l.lanes.map((x) => [x.node.name, [x.chips.map((c) => c.key), x.coresUsed, x.memUsedMb]]));
    expect(use).toEqual({
      n1: [['web/a', 'web/b'], 1, 512],
      n2: [['web/c'], 1, 512],
      n3: [[], 0, 0],
      n4: [[], 0, 0],
    });
    // Never placed, or placed on a node the cluster no longer lists.
    expect(l.unplaced.map((c) => c.key)).toEqual(['web/d', 'db/a']);
    expect(l.chips.get('db/a')).toMatchObject({ vcpus: 2, memMb: 1024, mode: 'strict' });
  });
});

describe('selection', () => {
  const order = ['w/a', 'w/b', 'w/c', 'w/d', 'w/e'];
  const cases: [string, string[], string | undefined, string, { toggle?: boolean; range?: boolean }, string[]][] = [
    ['click replaces', ['w/a', 'w/b'], 'w/a', 'w/c', {}, ['w/c']],
    ['ctrl-click adds', ['w/a'], 'w/a', 'w/c', { toggle: true }, ['w/a', 'w/c']],
    ['ctrl-click removes', ['w/a', 'w/c'], 'w/a', 'w/c', { toggle: true }, ['w/a']],
    ['shift-click selects the range forward', [], 'w/b', 'w/d', { range: true }, ['w/b', 'w/c', 'w/d']],
    ['shift-click selects the range backward, keeping others', ['w/e'], 'w/d', 'w/b', { range: true }, ['w/b', 'w/c', 'w/d', 'w/e']],
    ['shift-click without an anchor is a click', ['w/a'], undefined, 'w/c', { range: true }, ['w/c']],
  ];
  it.each(cases)('%s', (_, sel, anchor, key, mods, want) => {
    expect(selectChip(sel, anchor, key, order, mods).selection).toEqual(want);
  });

  it('drags the whole selection when a selected chip is dragged, else only the chip', () => {
    expect(dragSet(['w/a', 'w/b'], 'w/b')).toEqual(['w/a', 'w/b']);
    expect(dragSet(['w/a', 'w/b'], 'w/c')).toEqual(['w/c']);
  });
});

describe('planMove: the domain\'s move rules, as the drag shows them', () => {
  const vcs = [
    vcOf('web', [vm('web', 'a', 'n1', 'running'), vm('web', 'b', 'n1', 'saved'), vm('web', 'c', 'n1', 'stopped'), vm('web', 'd', 'n2', 'starting'), vm('web', 'e', 'n2', 'paused')]),
    vcOf('big', [vm('big', 'a', 'n1', 'running'), vm('big', 'b', 'n1', 'running')], { vcpus: 2, memMb: 1024 }),
    vcOf('wide', [vm('wide', 'a', 'n1', 'running')], { vcpus: 2, memMb: 128 }),
    vcOf('loose', [vm('loose', 'a', 'n1', 'running'), vm('loose', 'b', 'n1', 'running'), vm('loose', 'c', 'n1', 'running')], { vcpus: 1, memMb: 256, mode: 'free' }),
  ];
  const layout = layoutTopology(nodes, vcs);
  const plan = (keys: string[], to: string) => planMove(layout, keys, to).items.map((i) => [i.key, i.action, i.says]);
  const onlyRunningOrSaved = 'only a running or saved VM can move (a stopped VM is placed when its VC starts)';

  it('live migration for a running VM, relocation for a saved one; a stopped or paused VM is refused, as the workflow refuses it', () => {
    expect(plan(['web/a', 'web/b'], 'n2')).toEqual([
      ['web/a', 'migrate', 'web/a is live-migrated from n1 to n2: it keeps running, with the same address'],
      ['web/b', 'relocate', 'web/b is restored from its saved state on n2'],
    ]);
    expect(plan(['web/c', 'web/e'], 'n3')).toEqual([
      ['web/c', 'refuse', `refused: web/c is stopped: ${onlyRunningOrSaved}`],
      ['web/e', 'refuse', `refused: web/e is paused: ${onlyRunningOrSaved}`],
    ]);
  });

  it('counts the VMs of one drop against the target one after another (strict cores, memory)', () => {
    // n3: 2 cores, 1 GiB, empty. Each VM of the drop takes its share before the next is checked.
    expect(plan(['web/a', 'wide/a'], 'n3')).toEqual([
      ['web/a', 'migrate', 'web/a is live-migrated from n1 to n3: it keeps running, with the same address'],
      ['wide/a', 'refuse', 'refused: cannot move wide/a to n3: strict mode and n3 has 1 free core; wide/a needs 2'],
    ]);
    expect(plan(['big/a', 'big/b'], 'n3')).toEqual([
      ['big/a', 'migrate', 'big/a is live-migrated from n1 to n3: it keeps running, with the same address'],
      ['big/b', 'refuse', 'refused: cannot move big/b to n3: n3 has 0 MB of free memory; big/b needs 1024 MB'],
    ]);
  });

  it('ignores cores in free mode but always checks memory', () => {
    const n3small = layoutTopology([node('n1'), node('n3', 1, 600)], vcs);
    expect(planMove(n3small, ['loose/a', 'loose/b', 'loose/c'], 'n3').items.map((i) => [i.key, i.action, i.says])).toEqual([
      ['loose/a', 'migrate', 'loose/a is live-migrated from n1 to n3: it keeps running, with the same address'],
      ['loose/b', 'migrate', 'loose/b is live-migrated from n1 to n3: it keeps running, with the same address'],
      ['loose/c', 'refuse', 'refused: cannot move loose/c to n3: n3 has 88 MB of free memory; loose/c needs 256 MB'],
    ]);
  });

  it('refuses VMs in transition, unknown VMs, down nodes; nothing to do on the same node', () => {
    expect(plan(['web/d', 'gone/x'], 'n1')).toEqual([
      ['web/d', 'refuse', `refused: web/d is starting: ${onlyRunningOrSaved}`],
      ['gone/x', 'refuse', 'refused: this VM is no longer listed'],
    ]);
    expect(plan(['web/a'], 'n4')).toEqual([['web/a', 'refuse', 'refused: cannot move web/a to n4: n4 is down']]);
    expect(plan(['web/a'], 'n9')).toEqual([['web/a', 'refuse', 'refused: node n9 is not part of the cluster']]);
    expect(plan(['web/a'], 'n1')).toEqual([['web/a', 'none', 'web/a is already on n1: nothing to do']]);
    expect(planMove(layout, ['web/a', 'web/b', 'web/d'], 'n2').moving).toBe(2);
  });
});

describe('vcColour', () => {
  it('is stable and from the palette', () => {
    expect(vcColour('web')).toBe(vcColour('web'));
    for (const n of ['a', 'web', 'db', 'x-1', 'long-name-here']) expect(VC_COLOURS).toContain(vcColour(n));
  });

  it('gives the VCs shown distinct colours while the palette lasts, whatever their names', () => {
    for (let seed = 0; seed < 200; seed++) {
      const count = 2 + (seed % (VC_COLOURS.length - 1));
      const names = Array.from({ length: count }, (_, i) => `lc${(seed * 7919 + i * 104729).toString(36)}${i % 2 ? 'x' : ''}`);
      const colours = names.map((n) => vcColour(n, names));
      expect(new Set(colours).size, names.join(' ')).toBe(count);
      // The order the names come in does not matter: both screens agree.
      expect([...names].reverse().map((n) => vcColour(n, [...names].reverse())).reverse()).toEqual(colours);
    }
    // The case seen on the lab: two names a letter apart.
    expect(vcColour('lc99658c', ['lc99658c', 'lc99658cx'])).not.toBe(vcColour('lc99658cx', ['lc99658c', 'lc99658cx']));
  });

  it('keeps a VC\'s own colour when its slot is free, and reuses colours only past the palette', () => {
    expect(vcColour('web', ['web'])).toBe(vcColour('web'));
    const many = Array.from({ length: VC_COLOURS.length + 3 }, (_, i) => `vc${i}`);
    expect(new Set(many.map((n) => vcColour(n, many))).size).toBe(VC_COLOURS.length);
  });
});

describe('topology store', () => {
  let moved: unknown[] = [];
  beforeEach(() => {
    moved = [];
    const hub = new EventHub();
    const methods = Object.fromEntries(CHANNELS.map((c) => [c, async () => { throw new VlxError('internal', `not in this test: ${c}`); }])) as unknown as ServiceMethods;
    methods['vm.move'] = async ({ vms, to }) => {
      moved.push({ vms, to });
      return vms.map((v, i) => (i === 0 ? { vc: v.vc, vm: v.vm, ok: true, action: 'migrate' as const, taskId: 't1' } : { vc: v.vc, vm: v.vm, ok: false, error: { code: 'placement', message: 'n3 is full' } }));
    };
    setTransport(memoryTransport(createDispatch({ methods, events: hub, close: async () => {} }), hub));
    useTopology.setState({ selection: [], anchor: undefined, dragging: undefined, over: undefined, plan: undefined, moves: {} });
    useTopology.getState().setData(nodes, [vcOf('web', [vm('web', 'a', 'n1', 'running'), vm('web', 'b', 'n1', 'saved'), vm('web', 'c', 'n2', 'running')])]);
  });

  it('multi-select drag onto a lane proposes one line per VM, and confirming sends only those that can move', async () => {
    const s = useTopology.getState;
    s().select('web/a');
    s().select('web/b', { toggle: true });
    s().select('web/c', { toggle: true });
    s().startDrag('web/b');
    expect(s().dragging).toEqual(['web/a', 'web/b', 'web/c']);
    s().dragOver('n2');
    expect(s().over).toBe('n2');
    s().proposeMove('n2');
    expect(s().dragging).toBeUndefined();
    expect(s().plan?.items.map((i) => i.action)).toEqual(['migrate', 'relocate', 'none']);

    const results = await s().confirmMove();
    expect(moved).toEqual([{ vms: [{ vc: 'web', vm: 'a' }, { vc: 'web', vm: 'b' }], to: 'n2' }]);
    expect(results.map((r) => r.ok)).toEqual([true, false]);
    expect(s().plan).toBeUndefined();
    expect(s().moves).toEqual({
      'web/a': { to: 'n2', state: 'moving', taskId: 't1' },
      'web/b': { to: 'n2', state: 'failed', error: 'n3 is full' },
    });
  });

  it('dragging an unselected chip moves it alone and selects it', () => {
    const s = useTopology.getState;
    s().select('web/a');
    s().startDrag('web/c');
    expect(s().dragging).toEqual(['web/c']);
    expect(s().selection).toEqual(['web/c']);
    s().proposeMove('n1');
    expect(s().plan?.items.map((i) => [i.key, i.action])).toEqual([['web/c', 'migrate']]);
    s().cancelMove();
    expect(s().plan).toBeUndefined();
  });

  it('a move task that ended before vm.move answered still settles its chip', async () => {
    const { useTasks } = await import('../../renderer/src/stores/tasks.js');
    // The task's last event arrived first (earlier VMs of one VC move one after another).
    useTasks.getState().apply({ type: 'task', task: { id: 't1', kind: 'vm.move', target: 'web/a', state: 'failed', progress: 1, startedAt: '2026-01-01T00:00:00.000Z', endedAt: '2026-01-01T00:00:01.000Z', error: { code: 'remote-failed', message: 'target refused' }, steps: [] } });
    useTopology.getState().proposeMove('n2', ['web/a']);
    await useTopology.getState().confirmMove();
    expect(useTopology.getState().moves['web/a']).toEqual({ to: 'n2', state: 'failed', taskId: 't1', error: 'target refused' });
  });

  it('a move answered without a task id is settled by the task that moved that VM', () => {
    useTopology.setState({ moves: { 'web/c': { to: 'n1', state: 'moving' }, 'web/a': { to: 'n2', state: 'moving' } } });
    useTopology.getState().taskEnded('t7', false, 'lock held', 'web/c');
    expect(useTopology.getState().moves).toEqual({ 'web/c': { to: 'n1', state: 'failed', error: 'lock held' }, 'web/a': { to: 'n2', state: 'moving' } });
  });

  it('a move task that fails marks the chip failed with the reason', () => {
    useTopology.setState({ moves: { 'web/a': { to: 'n2', state: 'moving', taskId: 't9' } } });
    useTopology.getState().taskEnded('t9', false, 'migration failed: target refused');
    expect(useTopology.getState().moves['web/a']).toEqual({ to: 'n2', state: 'failed', taskId: 't9', error: 'migration failed: target refused' });
  });
});
