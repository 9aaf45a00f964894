import { describe, expect, it } from 'vitest';
import { capacityVerdict, fmtMb, migrationsText, parsePort, ranges, serviceGrid, servicesHealthy, serviceTone } from '../../renderer/src/stores/nodes.logic.js';

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
  const status = [
    { node: 'n1', services: [{ name: 'dnsmasq', state: 'running' }, { name: 'keepalived', state: 'master' }] },
    { node: 'n2', services: [{ name: 'keepalived', state: 'backup' }, { name: 'dnsmasq', state: 'failed', detail: 'exit 2' }, { name: 'chrony', state: 'running' }] },
  ];

  it('lays them out as a grid of every service seen, empty where a node lacks one', () => {
    const g = serviceGrid(status);
    expect(g.names).toEqual(['dnsmasq', 'keepalived', 'chrony']);
    expect(g.rows[0]!.cells.map((c) => c?.state)).toEqual(['running', 'master', undefined]);
    expect(g.rows[1]!.cells.map((c) => c?.state)).toEqual(['failed', 'backup', 'running']);
  });

  it('colours states and calls the cluster healthy only when every service runs or stands by', () => {
    expect(['running', 'master', 'backup', 'failed', 'stopped', 'unknown', 'weird'].map(serviceTone)).toEqual(['ok', 'ok', 'info', 'bad', 'bad', 'warn', 'muted']);
    expect(servicesHealthy(status)).toBe(false);
    expect(servicesHealthy([status[0]!])).toBe(true);
    expect(servicesHealthy([])).toBe(false);
    expect(servicesHealthy([{ node: 'n1', services: [] }])).toBe(false);
  });
});

describe('database', () => {
  it('sums migrations up as ranges', () => {
    expect(migrationsText([3, 1, 2, 4], [])).toBe('1–4 applied, none pending');
    expect(migrationsText([1, 2, 3], [5, 4])).toBe('1–3 applied, 4–5 pending');
    expect(migrationsText([], [1])).toBe('none applied, 1 pending');
    expect(ranges([1, 2, 3, 5, 7, 8])).toBe('1–3, 5, 7–8');
    expect(ranges([])).toBe('');
  });

  it('reads a port field', () => {
    expect(parsePort(' 5432 ')).toEqual({ port: 5432 });
    for (const bad of ['', '0', '65536', '54a', '-1', '1e3', '123456']) expect(parsePort(bad)).toEqual({ error: 'a port from 1 to 65535' });
  });
});
