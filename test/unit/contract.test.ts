import { describe, expect, it } from 'vitest';
import { CHANNELS, EVENT_NAMES, contract, type Channel } from '../../main/api/contract.js';
import { createDispatch } from '../../main/api/dispatch.js';
import { createClient, ApiError } from '../../main/api/client.js';
import { memoryTransport } from '../../main/api/memory.js';
import { CHANNEL_NAMES, EVENT_NAME_LIST } from '../../main/api/names.js';
import { EventHub } from '../../main/api/events.js';
import type { AppServices, ServiceMethods } from '../../main/api/methods.js';
import { VlxError } from '../../main/errors.js';

/**
 * The boundary itself: input validated where it arrives, envelopes out, plain data only.
 * The services here are a table of real functions over an in-memory record (no network):
 * what is under test is the dispatch and the transport, not the cluster.
 */
function harness(overrides: Partial<ServiceMethods> = {}, timeoutMs?: number) {
  const hub = new EventHub();
  const calls: { channel: string; input: unknown }[] = [];
  const methods = Object.fromEntries(CHANNELS.map((c) => [c, async (input: unknown) => {
    calls.push({ channel: c, input });
    throw new VlxError('internal', `not available yet: ${c}`);
  }])) as unknown as ServiceMethods;
  Object.assign(methods, overrides);
  const services: AppServices = { methods, events: hub, close: async () => {} };
  const dispatch = createDispatch(services, timeoutMs ? { timeoutMs, slowTimeoutMs: timeoutMs } : {});
  const client = createClient(memoryTransport(dispatch, hub));
  return { hub, calls, dispatch, client };
}

describe('contract', () => {
  it('lists exactly these channels and events (a change here is a change of the API)', () => {
    expect(CHANNELS).toMatchInlineSnapshot(`
      [
        "app.info",
        "clusters.add",
        "clusters.list",
        "clusters.remove",
        "clusters.use",
        "db.deploy",
        "db.migrate",
        "db.status",
        "db.switchover",
        "exec.run",
        "experiments.export",
        "experiments.list",
        "experiments.rows",
        "experiments.run",
        "experiments.show",
        "hostKey.accept",
        "hostKey.probe",
        "images.build",
        "images.import",
        "images.info",
        "images.list",
        "install.example",
        "install.macs",
        "install.parseMacs",
        "install.run",
        "install.status",
        "install.updateOriginal",
        "install.validate",
        "lab.crash",
        "lab.down",
        "lab.machines",
        "lab.powerOff",
        "lab.powerOn",
        "lab.revive",
        "lab.status",
        "lab.up",
        "node.evacuate",
        "node.evacuatePlan",
        "node.restore",
        "node.setMaintenance",
        "nodes.health",
        "nodes.list",
        "restore.run",
        "services.deploy",
        "services.status",
        "services.stop",
        "snapshots.delete",
        "snapshots.list",
        "snapshots.rollback",
        "snapshots.take",
        "tasks.cancel",
        "tasks.get",
        "tasks.list",
        "tasks.resume",
        "terminal.ack",
        "terminal.close",
        "terminal.openNodeShell",
        "terminal.openVmConsole",
        "terminal.reconnect",
        "terminal.resize",
        "terminal.write",
        "vc.create",
        "vc.destroy",
        "vc.get",
        "vc.list",
        "vc.previewPlacement",
        "vc.restore",
        "vc.save",
        "vc.setHa",
        "vc.start",
        "vc.stop",
        "vm.move",
        "vm.planMove",
        "volumes.delete",
        "volumes.reset",
        "volumes.tree",
      ]
    `);
    expect(EVENT_NAMES).toEqual(['nodes.health', 'state.changed', 'task', 'terminal.data', 'terminal.exit']);
    for (const c of CHANNELS) expect(c).toMatch(/^[a-z][A-Za-z]*\.[a-z][A-Za-z]*$/);
    // The preload's schema-free list must be the same table.
    expect([...CHANNEL_NAMES].sort()).toEqual(CHANNELS);
    expect([...EVENT_NAME_LIST].sort()).toEqual(EVENT_NAMES);
  });

  it('round-trips a call and its value over the in-memory pair', async () => {
    const { client, calls } = harness({
      'vc.start': async (input) => ({ taskId: `t-${input.name}-${input.policy}-${input.mode}` }),
    });
    await expect(client.call('vc.start', { name: 'web', policy: 'cyclic', mode: 'strict' })).resolves.toEqual({ taskId: 't-web-cyclic-strict' });
    expect(calls).toEqual([]);
  });

  it('drops unknown input keys before the service sees them', async () => {
    let seen: unknown;
    const { client } = harness({ 'vc.stop': async (input) => { seen = input; return { taskId: 'x' }; } });
    await client.call('vc.stop', { name: 'web', extra: 1 } as never);
    // timeoutS is the contract's default, filled in where the input arrives
    expect(seen).toEqual({ name: 'web', timeoutS: 30 });
  });

  const bad: [Channel, unknown, RegExp][] = [
    ['vc.create', { name: 'Web;rm -rf /', nodes: 2, vcpus: 1, memMb: 128, diskGb: 1, swapMb: 0, image: 'tiny', subnet: 'auto' }, /^name: must be 1-24 chars/],
    ['vc.create', { name: 'web', nodes: 0, vcpus: 1, memMb: 128, diskGb: 1, swapMb: 0, image: 'tiny', subnet: 'auto' }, /^nodes: must be a whole number from 1 to 256$/],
    ['vc.create', { name: 'web', nodes: 2, vcpus: 1.5, memMb: 128, diskGb: 1, swapMb: 0, image: 'tiny', subnet: 'auto' }, /^vcpus: must be a whole number/],
    ['vc.create', { name: 'web', nodes: 2, vcpus: 1, memMb: 128, diskGb: 1, swapMb: 0, image: 'tiny', subnet: '10.200.1.0/33' }, /^subnet: /],
    ['vc.create', { name: 'web', nodes: 2, vcpus: 1, memMb: 128, diskGb: 1, swapMb: 0, image: '../etc', subnet: 'auto' }, /^image: /],
    ['vc.start', { name: 'web', policy: 'random', mode: 'strict' }, /^policy: /],
    ['vm.move', { vms: [], to: 'n2' }, /^vms: /],
    ['vm.move', { vms: [{ vc: 'web', vm: 'a b' }], to: 'n2' }, /^vms\.0\.vm: /],
    ['clusters.add', { name: 'c', address: 'x;y', port: 22, user: 'root' }, /^address: must be an IPv4 address or a host name$/],
    ['clusters.add', { name: 'c', address: '10.0.0.1', port: 22, user: 'root', keyFile: 'relative/key' }, /^keyFile: must be an absolute path$/],
    ['volumes.delete', { path: '/srv/virtualinux/../etc/passwd' }, /^path: must not contain "\.\."$/],
    ['terminal.resize', { sessionId: 's1', rows: 0, cols: 80 }, /^rows: /],
    ['hostKey.accept', { address: '10.0.0.1', port: 22, fingerprint: 'MD5:aa' }, /^fingerprint: must be a SHA256 fingerprint$/],
  ];
  it.each(bad)('%s refuses bad input naming the field and rule (%#)', async (channel, input, message) => {
    const { client, calls } = harness();
    const env = await client.invoke(channel, input as never);
    expect(env.ok).toBe(false);
    if (env.ok) return;
    expect(env.error.code).toBe('invalid-input');
    expect(env.error.message).toMatch(message);
    expect(calls).toEqual([]);
  });

  it('refuses a channel it does not know', async () => {
    const { dispatch } = harness();
    await expect(dispatch('fs.readFile', { path: '/etc/shadow' })).resolves.toEqual({
      ok: false, error: { code: 'invalid-input', message: 'channel: unknown channel "fs.readFile"' },
    });
    await expect(dispatch('__proto__', {})).resolves.toMatchObject({ ok: false, error: { code: 'invalid-input' } });
  });

  it('keeps a VlxError code and hint, and turns anything else into internal', async () => {
    const { client } = harness({
      'vc.get': async ({ name }) => { throw new VlxError('not-found', `VC "${name}" does not exist`, 'see the list'); },
      'vc.list': async () => { throw new TypeError('boom'); },
    });
    await expect(client.invoke('vc.get', { name: 'web' })).resolves.toEqual({ ok: false, error: { code: 'not-found', message: 'VC "web" does not exist', hint: 'see the list' } });
    await expect(client.invoke('vc.list', {})).resolves.toEqual({ ok: false, error: { code: 'internal', message: 'boom' } });
    const err = await client.call('vc.get', { name: 'web' }).catch((e) => e);
    expect(err).toBeInstanceOf(ApiError);
    expect(err.code).toBe('not-found');
  });

  it('refuses output the contract does not allow instead of passing it on', async () => {
    const { client } = harness({ 'vc.stop': async () => ({ task: 'not the shape' }) as never });
    const env = await client.invoke('vc.stop', { name: 'web' });
    expect(env).toMatchObject({ ok: false, error: { code: 'internal' } });
    if (!env.ok) expect(env.error.message).toMatch(/^vc\.stop: the service returned data the contract does not allow \(taskId: /);
  });

  it('answers timeout when a service does not answer in time', async () => {
    const { client } = harness({ 'lab.status': () => new Promise(() => {}) }, 50);
    await expect(client.invoke('lab.status', {})).resolves.toEqual({ ok: false, error: { code: 'timeout', message: 'lab.status: no answer within 50 ms' } });
  });

  it('delivers events to subscribers by name, as plain data', async () => {
    const { client, hub } = harness();
    const got: unknown[] = [];
    const off = client.on('terminal.data', (p) => got.push(p));
    client.on('state.changed', (p) => got.push(p));
    hub.emit('terminal.data', { sessionId: 's1', data: 'n1\r\n' });
    hub.emit('state.changed', { what: 'vcs' });
    off();
    hub.emit('terminal.data', { sessionId: 's1', data: 'lost' });
    expect(got).toEqual([{ sessionId: 's1', data: 'n1\r\n' }, { what: 'vcs' }]);
  });

  it('has an input and an output schema for every channel', () => {
    for (const c of CHANNELS) {
      expect(typeof contract[c].input.safeParse).toBe('function');
      expect(typeof contract[c].output.safeParse).toBe('function');
    }
  });
});
