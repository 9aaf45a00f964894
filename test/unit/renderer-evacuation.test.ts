import { beforeEach, describe, expect, it } from 'vitest';
import { CHANNELS } from '../../main/api/contract.js';
import { createDispatch } from '../../main/api/dispatch.js';
import { EventHub } from '../../main/api/events.js';
import { memoryTransport } from '../../main/api/memory.js';
import type { ServiceMethods } from '../../main/api/methods.js';
import { VlxError } from '../../main/errors.js';
import { planComplete, planEvacuation, type EvacuatingVm } from '../../main/placement/evacuate.js';
import type { PlaceNode } from '../../main/placement/place.js';
import { setTransport } from '../../renderer/src/api.js';
import { useEvacuation } from '../../renderer/src/stores/evacuation.js';
import { EVAC_FALLBACK_WORD } from '../../renderer/src/stores/topology.status.logic.js';

/**
 * The dialog's mode and fallback: every change asks main for the plan again, and main's answer
 * is what the table shows. The fake main here answers with main's own pure rule over a fixed
 * cluster (n2 has room for one VM only), so the test sees the rule's answer, not a copy of it.
 */
const nodes: PlaceNode[] = [
  { name: 'n1', cores: 4, memMb: 4096, usedCores: 0, usedMemMb: 0, alive: true },
  { name: 'n2', cores: 4, memMb: 4096, usedCores: 3, usedMemMb: 0, alive: true },
];
const vms: EvacuatingVm[] = ['vm1', 'vm2'].map((vm) => ({ vc: 'web', vm, state: 'running', vcpus: 1, memMb: 512, policy: 'block', mode: 'strict' }));

interface Call { channel: string; input: Record<string, unknown> }
let calls: Call[];
/** a plan answer held back until released, by fallback */
let hold: Partial<Record<string, Promise<void>>>;

beforeEach(() => {
  calls = [];
  hold = {};
  const hub = new EventHub();
  const methods = Object.fromEntries(CHANNELS.map((c) => [c, async () => { throw new VlxError('internal', `not in this test: ${c}`); }])) as unknown as ServiceMethods;
  methods['node.evacuatePlan'] = async (input) => {
    calls.push({ channel: 'node.evacuatePlan', input });
    await hold[input.fallback];
    if (input.node === 'n9') throw new VlxError('invalid-input', 'node: must be a node of cluster lab (got "n9")');
    const steps = planEvacuation(input.node, vms, nodes, input.mode, input.fallback);
    return { node: input.node, mode: input.mode, fallback: input.fallback, steps, complete: planComplete(steps) };
  };
  methods['node.evacuate'] = async (input) => { calls.push({ channel: 'node.evacuate', input }); return { taskId: 'task-7' }; };
  methods['nodes.list'] = async () => [];
  methods['vc.list'] = async () => [];
  methods['tasks.get'] = async () => { throw new VlxError('not-found', 'no such task'); };
  setTransport(memoryTransport(createDispatch({ methods, events: hub, close: async () => {} }), hub));
  useEvacuation.setState({ node: undefined, plan: undefined, mode: 'live', fallback: 'none', loading: false, error: undefined, running: {} });
});

const actions = () => useEvacuation.getState().plan?.steps.map((s) => `${s.vm} ${s.action}${s.fallback ? `/${s.fallback}` : ''}`);

describe('the evacuation dialog\'s fallback choice', () => {
  it('re-plans through main when the fallback changes; the table shows each VM\'s action under it', async () => {
    await useEvacuation.getState().open('n1');
    expect(actions()).toEqual(['vm1 live', 'vm2 refuse']);
    await useEvacuation.getState().setFallback('stop');
    expect(actions()).toEqual(['vm1 live/stop', 'vm2 stop']);
    expect(useEvacuation.getState().plan).toMatchObject({ fallback: 'stop', complete: true });
    await useEvacuation.getState().setFallback('cold');
    expect(actions()).toEqual(['vm1 live/cold', 'vm2 refuse']);
    await useEvacuation.getState().setMode('cold');
    expect(actions()).toEqual(['vm1 cold', 'vm2 refuse']);
    expect(calls.map((c) => c.input)).toEqual([
      { node: 'n1', mode: 'live', fallback: 'none' },
      { node: 'n1', mode: 'live', fallback: 'stop' },
      { node: 'n1', mode: 'live', fallback: 'cold' },
      { node: 'n1', mode: 'cold', fallback: 'cold' },
    ]);
    expect(EVAC_FALLBACK_WORD.cold).toBe('if it fails: reboot there');
  });

  it('confirm evacuates with the mode and fallback that were planned', async () => {
    await useEvacuation.getState().open('n1');
    await useEvacuation.getState().setFallback('stop');
    expect(await useEvacuation.getState().confirm()).toBe('task-7');
    expect(calls.at(-1)).toEqual({ channel: 'node.evacuate', input: { node: 'n1', mode: 'live', fallback: 'stop' } });
    expect(useEvacuation.getState()).toMatchObject({ node: undefined, plan: undefined, running: { n1: 'task-7' } });
  });

  it('drops the answer for a choice the admin has since changed, whichever comes back last', async () => {
    await useEvacuation.getState().open('n1');
    let release = () => {};
    hold.cold = new Promise<void>((ok) => { release = ok; });
    const slow = useEvacuation.getState().setFallback('cold');
    await useEvacuation.getState().setFallback('stop');
    expect(actions()).toEqual(['vm1 live/stop', 'vm2 stop']);
    release();
    await slow;
    expect(useEvacuation.getState().fallback).toBe('stop');
    expect(actions()).toEqual(['vm1 live/stop', 'vm2 stop']);
    expect(useEvacuation.getState().loading).toBe(false);
  });

  it('keeps the choice for the next node; a refusal from main is shown, not thrown', async () => {
    await useEvacuation.getState().open('n1');
    await useEvacuation.getState().setFallback('stop');
    useEvacuation.getState().close();
    await useEvacuation.getState().open('n9');
    expect(calls.at(-1)?.input).toEqual({ node: 'n9', mode: 'live', fallback: 'stop' });
    expect(useEvacuation.getState()).toMatchObject({ plan: undefined, loading: false, error: { code: 'invalid-input' } });
    expect(useEvacuation.getState().error?.message).toMatch(/^node: must be a node/);
  });

  it('a change with no dialog open asks nothing', async () => {
    await useEvacuation.getState().setFallback('cold');
    await useEvacuation.getState().setMode('stop');
    expect(calls).toEqual([]);
  });
});
