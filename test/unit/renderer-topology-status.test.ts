import { describe, expect, it } from 'vitest';
import type { DbStatus, EvacuationPlan, NodeInfo, VcInfo, VmInfo } from '../../main/api/contract.js';
import { CHANNELS } from '../../main/api/contract.js';
import { createDispatch } from '../../main/api/dispatch.js';
import { EventHub } from '../../main/api/events.js';
import { memoryTransport } from '../../main/api/memory.js';
import type { ServiceMethods } from '../../main/api/methods.js';
import { VlxError } from '../../main/errors.js';
import { setTransport } from '../../renderer/src/api.js';
import { useTopology } from '../../renderer/src/stores/topology.js';
import { busyWith, moveAction } from '../../main/domain/move.js';
import { layoutTopology, planMove } from '../../renderer/src/stores/topology.logic.js';
import { chipTransit, dbRoles, dbSummary, evacuationSummary, type TaskBrief } from '../../renderer/src/stores/topology.status.logic.js';

const task = (target: string, kind = 'vm.move', extra: Partial<TaskBrief> = {}): TaskBrief => ({ id: '0123456789abcdef', kind, target, state: 'running', ...extra });
const chip = (state: VmInfo['state'], node = 'n1') => ({ vc: 'web', name: 'a', state, node });

describe('the domain move rule with a live task (busy)', () => {
  it('refuses a VM a running task acts on, and names the task', () => {
    const d = moveAction({ vc: 'web', vm: 'a', state: 'migrating', node: 'n1', busy: 'vm.move task 01234567 runs' }, 'n2');
    expect(d).toEqual({ action: 'refuse', reason: 'web/a is migrating (vm.move task 01234567 runs): it can move once that ends' });
  });
  it('lets a VM an interrupted move left migrating move again (that resumes it)', () => {
    expect(busyWith('web', 'a', [task('web/a', 'vm.move', { interrupted: true })])).toBeUndefined();
    expect(moveAction({ vc: 'web', vm: 'a', state: 'migrating', node: 'n1' }, 'n2').action).toBe('migrate');
  });
  it('counts tasks on the VM or its whole VC, running only', () => {
    expect(busyWith('web', 'a', [task('web/a')])).toBe('vm.move task 01234567 runs');
    expect(busyWith('web', 'a', [task('web', 'vc.stop')])).toBe('vc.stop task 01234567 runs');
    expect(busyWith('web', 'a', [task('web/b'), task('webx'), task('web/a', 'vm.move', { state: 'succeeded' })])).toBeUndefined();
  });
});

describe('chipTransit: the badge and the drag refusal', () => {
  it('a live move: spinner word with the target, and the domain refusal', () => {
    const t = chipTransit(chip('migrating'), [task('web/a')], { to: 'n2', state: 'moving' });
    expect(t).toEqual({ word: 'migrating → n2', live: true, refusal: 'web/a is migrating (vm.move task 01234567 runs): it can move once that ends' });
  });
  it('the window asked for a move whose task it has not seen yet', () => {
    const t = chipTransit(chip('running'), [], { to: 'n3', state: 'moving' });
    expect(t?.word).toBe('moving → n3');
    expect(t?.refusal).toMatch(/a move to n3 runs/);
  });
  it('a VC workflow acting on a still-running VM shows its verb', () => {
    expect(chipTransit(chip('running'), [task('web', 'vc.save')])?.word).toBe('saving');
    expect(chipTransit(chip('saving'), [task('web', 'vc.save')])).toMatchObject({ word: 'saving', live: true });
  });
  it('a transit state no live task explains: interrupted, and it may be dragged (a re-run resumes)', () => {
    const t = chipTransit(chip('migrating'), [task('web/a', 'vm.move', { interrupted: true })]);
    expect(t).toEqual({ word: 'migrating (interrupted)', live: false });
  });
  it('a settled VM is not in transit', () => {
    expect(chipTransit(chip('running'), [task('other/a')])).toBeUndefined();
    expect(chipTransit(chip('stopped'), [])).toBeUndefined();
  });
});

describe('planMove with busy VMs', () => {
  const node = (name: string): NodeInfo => ({ name, address: '10.77.0.1', state: 'up', cores: 4, memMb: 4096, services: [], inUse: false });
  const vm = (name: string, state: VmInfo['state']): VmInfo => ({ name, vc: 'web', node: 'n1', state, address: '10.200.0.2', mac: '52:54:00:00:00:01' });
  const vc: VcInfo = { name: 'web', state: 'running', image: 'tiny', vcpus: 1, memMb: 256, diskGb: 1, swapMb: 0, subnet: '10.200.0.0/24', vms: [vm('a', 'migrating'), vm('b', 'running')], mode: 'strict' };
  it('refuses the busy one and moves the other', () => {
    const plan = planMove(layoutTopology([node('n1'), node('n2')], [vc]), ['web/a', 'web/b'], 'n2', (k) => (k === 'web/a' ? 'vm.move task 1 runs' : undefined));
    expect(plan.items.map((i) => [i.key, i.action])).toEqual([['web/a', 'refuse'], ['web/b', 'migrate']]);
    expect(plan.moving).toBe(1);
  });
});

describe('database roles on the lanes', () => {
  const db = (members: DbStatus['members'], primary?: string): DbStatus => ({
    cluster: 'lab', endpoint: { node: 'n2', host: '10.77.0.2', port: 5432, database: 'vlx', user: 'vlx' }, reachable: true, members, ...(primary ? { primary } : {}),
  });
  const m = (node: string, role: NonNullable<DbStatus['members']>[number]['role'], lagBytes?: number) =>
    ({ node, host: `10.77.0.${node.slice(1)}`, role, state: role === 'unreachable' ? 'unreachable' : 'streaming', timeline: 3, ...(lagBytes !== undefined ? { lagBytes } : {}) });
  it('labels each member by its node', () => {
    const roles = dbRoles(db([m('n1', 'sync_standby', 0), m('n2', 'primary'), m('n3', 'standby', 4096)], 'n2'));
    expect([...roles].map(([n, r]) => [n, r.label, r.tone])).toEqual([
      ['n1', 'DB sync standby', 'info'], ['n2', 'DB primary', 'good'], ['n3', 'DB async standby', 'info'],
    ]);
    expect(roles.get('n3')!.title).toBe('cluster database on 10.77.0.3: standby (streaming, timeline 3, 4096 bytes behind)');
  });
  it('an unreachable member is bad', () => {
    expect(dbRoles(db([m('n3', 'unreachable')])).get('n3')).toMatchObject({ label: 'DB unreachable', tone: 'bad' });
  });
  it('the status bar names the primary, or says there is none', () => {
    expect(dbSummary(db([m('n1', 'sync_standby'), m('n2', 'primary')], 'n2'))).toEqual({ text: 'DB primary: n2', tone: 'good' });
    expect(dbSummary(db([m('n1', 'sync_standby'), m('n2', 'primary'), m('n3', 'unreachable')], 'n2'))?.text).toBe('DB primary: n2 · 1 member unreachable');
    expect(dbSummary(db([m('n1', 'standby'), m('n2', 'unreachable')]))).toEqual({ text: 'Cluster DB: no primary (writes wait)', tone: 'bad' });
    expect(dbSummary(undefined)).toBeUndefined();
    expect(dbSummary(undefined, 'connection refused')).toEqual({ text: 'Cluster DB: connection refused', tone: 'bad' });
    expect(dbSummary({ ...db(undefined), reachable: false })?.text).toBe('Cluster DB not reachable');
  });
});

describe('evacuationSummary', () => {
  const plan = (steps: EvacuationPlan['steps']): EvacuationPlan => ({ node: 'n1', mode: 'live', fallback: 'none', steps, complete: steps.every((s) => s.action !== 'refuse') });
  it('counts what moves and what is refused', () => {
    expect(evacuationSummary(plan([
      { vc: 'web', vm: 'a', from: 'n1', to: 'n2', action: 'live', reason: '' },
      { vc: 'web', vm: 'b', from: 'n1', to: 'n3', action: 'remap', reason: '' },
      { vc: 'web', vm: 'c', from: 'n1', action: 'refuse', reason: 'no room' },
    ]))).toEqual({ title: 'Evacuate n1: 2 VMs move, 1 refused', button: 'Evacuate n1', moving: 2, refused: 1 });
  });
  it('an empty node only goes into maintenance', () => {
    expect(evacuationSummary(plan([])).button).toBe('Put n1 in maintenance');
  });
});

describe('the topology store asks db.status', () => {
  const setup = (answer: () => Promise<DbStatus>) => {
    const hub = new EventHub();
    const methods = Object.fromEntries(CHANNELS.map((c) => [c, async () => { throw new VlxError('internal', `not in this test: ${c}`); }])) as unknown as ServiceMethods;
    let asked = 0;
    methods['db.status'] = async () => { asked++; return answer(); };
    setTransport(memoryTransport(createDispatch({ methods, events: hub, close: async () => {} }), hub));
    useTopology.setState({ db: undefined, dbError: undefined });
    return () => asked;
  };
  const status: DbStatus = { cluster: 'lab', endpoint: { node: 'n1', host: '10.77.0.1', port: 5432, database: 'd', user: 'u' }, reachable: true, primary: 'n1', members: [] };

  it('keeps the answer, and never stacks a second ask on a slow one', async () => {
    let release!: () => void;
    const asked = setup(() => new Promise((ok) => { release = () => ok(status); }));
    const first = useTopology.getState().loadDb();
    await useTopology.getState().loadDb();
    await new Promise((r) => setTimeout(r, 0));
    release();
    await first;
    expect(asked()).toBe(1);
    expect(useTopology.getState().db?.primary).toBe('n1');
  });
  it('a cluster with no database is not an error; another failure is, in its words', async () => {
    setup(() => Promise.reject(new VlxError('not-found', 'cluster lab has no database yet')));
    await useTopology.getState().loadDb();
    expect(useTopology.getState().dbError).toBeUndefined();
    setup(() => Promise.reject(new VlxError('remote-failed', 'no member answers')));
    await useTopology.getState().loadDb();
    expect(useTopology.getState().dbError).toBe('no member answers');
    expect(dbSummary(useTopology.getState().db, useTopology.getState().dbError)?.tone).toBe('bad');
  });
});

describe('the evacuation dialog asks main for the plan, and acts only on confirm', () => {
  it('plans per mode, evacuates on confirm, and remembers the task by node', async () => {
    const hub = new EventHub();
    const methods = Object.fromEntries(CHANNELS.map((c) => [c, async () => { throw new VlxError('internal', `not in this test: ${c}`); }])) as unknown as ServiceMethods;
    const calls: string[] = [];
    methods['node.evacuatePlan'] = async ({ node, mode, fallback }) => {
      calls.push(`plan ${node} ${mode}`);
      return { node, mode, fallback, complete: true, steps: [{ vc: 'web', vm: 'a', from: node, to: 'n2', action: mode === 'live' ? 'live' : 'cold', reason: 'r' }] };
    };
    methods['node.evacuate'] = async ({ node, mode }) => { calls.push(`evacuate ${node} ${mode}`); return { taskId: 'task-1' }; };
    methods['nodes.list'] = async () => [];
    methods['vc.list'] = async () => [];
    methods['tasks.get'] = async () => { throw new VlxError('not-found', 'no such task'); };
    setTransport(memoryTransport(createDispatch({ methods, events: hub, close: async () => {} }), hub));
    const { useEvacuation } = await import('../../renderer/src/stores/evacuation.js');
    const ev = useEvacuation.getState();
    await ev.open('n1');
    expect(useEvacuation.getState().plan?.steps[0]?.action).toBe('live');
    await useEvacuation.getState().setMode('cold');
    expect(useEvacuation.getState().plan?.steps[0]?.action).toBe('cold');
    expect(calls).toEqual(['plan n1 live', 'plan n1 cold']);
    expect(await useEvacuation.getState().confirm()).toBe('task-1');
    expect(calls.at(-1)).toBe('evacuate n1 cold');
    expect(useEvacuation.getState()).toMatchObject({ node: undefined, plan: undefined, running: { n1: 'task-1' } });
    useEvacuation.getState().close();
  });
});
