import { describe, expect, it } from 'vitest';
import { capacityVerdict, fmtMb, migrationsText, parsePort, serviceGrid, servicesVerdict, stateTone } from '../../renderer/src/stores/nodes.logic.js';

describe('capacity', () => {
  it('is fine when the node has at least what it declares', () => {
    expect(capacityVerdict({ cores: 4, memMb: 8192 }, { cores: 8, memMb: 16384 }).level).toBe('ok');
    expect(capacityVerdict({ cores: 8, memMb: 16384 }, { cores: 8, memMb: 16384 }).level).toBe('ok');
  });

  it('warns, naming each shortfall, when it declares more than it has', () => {
    const v = capacityVerdict({ cores: 16, memMb: 65536 }, { cores: 8, memMb: 16384 });
    expect(v.level).toBe('warn');
    expect(v.text).toBe('declares more than it has: 16 cores declared, 8 present; 64 GiB declared, 16 GiB present');
    expect(capacityVerdict({ cores: 2, memMb: 4096 }, { cores: 4, memMb: 2048 }).text).toBe('declares more than it has: 4 GiB declared, 2 GiB present');
  });

  it('says so when either side is not known', () => {
    expect(capacityVerdict(undefined, { cores: 1, memMb: 1 }).level).toBe('unknown');
    expect(capacityVerdict({ cores: 1, memMb: 1 }, undefined).level).toBe('unknown');
  });

  it('writes memory the way people read it', () => {
    expect(fmtMb(512)).toBe('512 MB');
    expect(fmtMb(8192)).toBe('8 GiB');
    expect(fmtMb(15950)).toBe('15.6 GiB');
    expect(fmtMb(3000)).toBe('3000 MB');
  });
});

describe('node services', () => {
  const n = (node: string, services: [string, string][], extra: Partial<{ reachable: boolean; deployed: boolean }> = {}) =>
    ({ node, reachable: true, deployed: true, services: services.map(([service, state]) => ({ service, state })), ...extra });
  const nodes = [
    n('n1', [['dnsmasq', 'running'], ['keepalived', 'running']]),
    n('n2', [['keepalived', 'running'], ['dnsmasq', 'stopped'], ['chrony', 'running']]),
  ];

  it('lays them out as a grid of every service seen, empty where a node lacks one', () => {
    const g = serviceGrid(nodes);
    expect(g.names).toEqual(['dnsmasq', 'keepalived', 'chrony']);
    expect(g.rows[0]!.cells.map((c) => c?.state)).toEqual(['running', 'running', undefined]);
    expect(g.rows[1]!.cells.map((c) => c?.state)).toEqual(['stopped', 'running', 'running']);
  });

  it('colours service and KVM states', () => {
    expect(['running', 'master', 'usable', 'backup', 'stopped', 'absent', 'unusable', 'unknown', 'unverified', undefined].map(stateTone))
      .toEqual(['ok', 'ok', 'ok', 'info', 'bad', 'bad', 'bad', 'warn', 'warn', 'muted']);
  });

  it('says what is wrong with the services, or that nothing is', () => {
    expect(servicesVerdict({ holders: ['n1'], nodes: [nodes[0]!] })).toEqual({ level: 'ok', text: 'every node runs its services; the gateway address is on n1' });
    expect(servicesVerdict({ holders: ['n1'], nodes })).toEqual({ level: 'warn', text: 'not all running on n2' });
    expect(servicesVerdict({ holders: ['n1', 'n2'], nodes: [nodes[0]!] }).level).toBe('bad');
    expect(servicesVerdict({ holders: ['n1', 'n2'], nodes: [nodes[0]!] }).text).toContain('split brain: the gateway address is held by n1 and n2');
    const fresh = [n('n1', [], { deployed: false }), n('n2', [], { reachable: false, deployed: false })];
    expect(servicesVerdict({ holders: [], nodes: fresh })).toEqual({ level: 'warn', text: 'not deployed on n1; n2 did not answer' });
    expect(servicesVerdict({ holders: [], nodes: [fresh[0]!] }).level).toBe('bad');
    expect(servicesVerdict({ holders: [], nodes: [nodes[0]!] }).text).toBe('no node holds the gateway address');
  });
});

describe('database', () => {
  it('sums migrations up', () => {
    expect(migrationsText({ applied: ['002_share_ids', '001_initial'], pending: [] })).toBe('2 applied (latest 002_share_ids) · none pending');
    expect(migrationsText({ applied: [], pending: ['002_b', '001_a'] })).toBe('none applied · 2 pending: 001_a, 002_b');
    expect(migrationsText({ applied: ['001_a'], pending: [], unknown: ['009_z'] })).toBe('1 applied (latest 001_a) · none pending · 1 from a newer version of the app: 009_z');
  });

  it('reads a port field', () => {
    expect(parsePort(' 5432 ')).toEqual({ port: 5432 });
    for (const bad of ['', '0', '65536', '54a', '-1', '1e3', '123456']) expect(parsePort(bad)).toEqual({ error: 'a port from 1 to 65535' });
  });
});
