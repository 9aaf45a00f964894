import { beforeEach, describe, expect, it } from 'vitest';
import { CHANNELS, type NodeInfo, type VcInfo } from '../../main/api/contract.js';
import { createDispatch } from '../../main/api/dispatch.js';
import { EventHub } from '../../main/api/events.js';
import { memoryTransport } from '../../main/api/memory.js';
import type { ServiceMethods } from '../../main/api/methods.js';
import { VlxError } from '../../main/errors.js';
import { setTransport } from '../../renderer/src/api.js';
import { ACTIONS, runAction } from '../../renderer/src/actions/index.js';
import { usePalette } from '../../renderer/src/stores/palette.js';
import { useApp, SCREENS } from '../../renderer/src/stores/app.js';
import { useTopology } from '../../renderer/src/stores/topology.js';
import { useVcs } from '../../renderer/src/stores/vcs.js';
import { duplicateChords, normalizeChord } from '../../renderer/src/stores/shortcuts.logic.js';
import { GUI_PATHS } from '../../renderer/src/actions/coverage.js';
import { cliOnly, shown, windowHint } from '../../renderer/src/api.js';

/**
 * The registry driven as the palette drives it, against the real dispatcher and contract
 * validation; only the services behind it are stand-ins that record what they were asked.
 */
const node = (name: string, state: NodeInfo['state'] = 'up'): NodeInfo => ({ name, address: `10.77.0.${name.slice(1)}`, state, cores: 4, memMb: 8192, services: [], inUse: name === 'n1' });
const vm = (vc: string, name: string, nodeName: string, state: VcInfo['vms'][number]['state']) => ({ name, vc, node: nodeName, state, address: '10.200.0.2', mac: '52:54:00:00:00:01' });
const VCS: VcInfo[] = [
  { name: 'web', state: 'saved', image: 'tiny', vcpus: 1, memMb: 256, diskGb: 1, swapMb: 0, subnet: '10.200.0.0/24', policy: 'block', mode: 'free', vms: [vm('web', 'vm1', 'n1', 'saved')] },
  { name: 'db', state: 'running', image: 'tiny', vcpus: 1, memMb: 256, diskGb: 1, swapMb: 0, subnet: '10.200.1.0/24', vms: [vm('db', 'vm1', 'n2', 'running')] },
];
const calls: { channel: string; input: unknown }[] = [];

beforeEach(() => {
  calls.length = 0;
  const hub = new EventHub();
  const methods = Object.fromEntries(CHANNELS.map((c) => [c, async (input: unknown) => {
    calls.push({ channel: c, input });
    throw new VlxError('internal', `not part of this test: ${c}`);
  }])) as unknown as ServiceMethods;
  const record = <T>(c: string, v: T) => async (input: unknown) => { calls.push({ channel: c, input }); return v; };
  methods['vc.list'] = record('vc.list', VCS);
  methods['nodes.list'] = record('nodes.list', [node('n1'), node('n2'), node('n3', 'down')]);
  methods['images.list'] = record('images.list', []);
  methods['vc.get'] = record('vc.get', { ...VCS[0]!, drift: [], actual: {}, tasks: [] });
  methods['vc.restore'] = record('vc.restore', { taskId: 't1' });
  methods['lab.down'] = record('lab.down', { taskId: 't2' });
  setTransport(memoryTransport(createDispatch({ methods, events: hub, close: async () => {} }), hub));
  usePalette.getState().hide();
});

describe('the action registry', () => {
  it('has unique ids, valid shortcuts and no chord bound twice', () => {
    const ids = ACTIONS.map((a) => a.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const a of ACTIONS) for (const c of a.shortcut ?? []) expect(normalizeChord(c)).toBe(c);
    expect(duplicateChords(ACTIONS)).toEqual([]);
  });

  it('opens the palette with Ctrl+Shift+P and F1, and reaches every screen', () => {
    expect(ACTIONS.find((a) => a.id === 'palette.show')?.shortcut).toEqual(['Ctrl+Shift+P', 'F1']);
    for (const s of SCREENS) expect(ACTIONS.some((a) => a.id === `go.${s.id}`), s.id).toBe(true);
  });
});

describe('every contract channel has a GUI path', () => {
  it('is listed, and the action it names exists', () => {
    expect(CHANNELS.filter((c) => !GUI_PATHS[c])).toEqual([]);
    expect(Object.keys(GUI_PATHS).filter((c) => !(CHANNELS as string[]).includes(c))).toEqual([]);
    const ids = new Set(ACTIONS.map((a) => a.id));
    expect(Object.values(GUI_PATHS).filter((p) => p.action && !ids.has(p.action))).toEqual([]);
  });
});

describe('errors as the screens show them', () => {
  it('never show a hint written for the command line', () => {
    expect(cliOnly('deploy one with `vlx db deploy --node NODE`')).toBe(true);
    expect(cliOnly('pass --mem-mb 512')).toBe(true);
    expect(cliOnly('check the node is up -- then retry')).toBe(false);
    expect(cliOnly('deploy the database on one node first')).toBe(false);
    expect(shown({ code: 'not-found', message: 'cluster lab has no database yet', hint: 'deploy one with `vlx db deploy --node NODE`' }))
      .toEqual({ code: 'not-found', message: 'cluster lab has no database yet', hint: 'Deploy it on the Nodes screen (Cluster database, Deploy…)' });
    // The first command named decides; one with no place in the window leaves the hint out.
    expect(windowHint('check `vlx db status`; deploy it with `vlx db deploy --nodes NODES`')).toBe('See the Nodes screen: Cluster database.');
    expect(windowHint('stop it first (`vlx agent stop`), or use it')).toBeUndefined();
    expect(windowHint('pass --mem-mb 512')).toBeUndefined();
    expect(windowHint('is it up?')).toBe('is it up?');
    expect(shown({ code: 'unreachable', message: 'n2 does not answer', hint: 'is it up?' }).hint).toBe('is it up?');
  });
});

describe('running actions', () => {
  it('asks which VC, offering only those the action accepts, then calls the service with that VC\'s policy', async () => {
    await runAction('vc.restore');
    const p = usePalette.getState();
    expect(p.open).toBe(true);
    expect(p.pending?.prompt).toMatch(/Restore which/);
    expect(p.pending?.choices?.map((c) => [c.id, c.disabled])).toEqual([['web', undefined], ['db', 'not saved']]);

    await runAction('vc.restore', ['web']);
    expect(usePalette.getState().open).toBe(false);
    expect(useApp.getState().screen).toBe('vcs');
    expect(calls.find((c) => c.channel === 'vc.restore')?.input).toEqual({ name: 'web', policy: 'block', mode: 'free' });
  });

  it('does nothing until a confirmation step is answered yes', async () => {
    await runAction('lab.down');
    expect(usePalette.getState().pending?.choices?.map((c) => c.id)).toEqual(['yes', 'no']);
    await runAction('lab.down', ['no']);
    expect(calls.some((c) => c.channel === 'lab.down')).toBe(false);
    await runAction('lab.down', ['yes']);
    expect(calls.some((c) => c.channel === 'lab.down')).toBe(true);
  });

  it('moves a VM only to a node that is up and is not where it runs, through the move plan', async () => {
    await runAction('vm.move', ['db/vm1']);
    const choices = usePalette.getState().pending?.choices ?? [];
    expect(choices.map((c) => [c.id, c.disabled])).toEqual([['n1', undefined], ['n2', 'the VM is already there'], ['n3', 'it is down']]);
    await runAction('vm.move', ['db/vm1', 'n1']);
    expect(useApp.getState().screen).toBe('topology');
    expect(useTopology.getState().plan?.to).toBe('n1');
    expect(useTopology.getState().plan?.items.map((i) => [i.key, i.action])).toEqual([['db/vm1', 'migrate']]);
  });

  it('opens the destroy confirmation (type the name) instead of destroying', async () => {
    await runAction('vc.destroy', ['db']);
    expect(useVcs.getState().destroying).toBe('db');
    expect(calls.some((c) => c.channel === 'vc.destroy')).toBe(false);
  });

  it('shows a failed list of choices with its message', async () => {
    await runAction('task.cancel');
    expect(usePalette.getState().pending?.error).toMatch(/not part of this test: tasks.list/);
  });

  it('remembers what was used, most recent first', async () => {
    await runAction('theme.dark');
    await runAction('go.tasks');
    expect(usePalette.getState().recent.slice(0, 2)).toEqual(['go.tasks', 'theme.dark']);
  });
});
