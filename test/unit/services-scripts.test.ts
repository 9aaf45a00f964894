import { spawnSync } from 'node:child_process';
import { describe, expect, test } from 'vitest';
import { Manifest } from '../../main/domain/manifest.js';
import { planServices } from '../../main/node-services/plan.js';
import { renderNodeFiles } from '../../main/node-services/render.js';
import {
  deployScript, parseDeploy, parseProbe, parseStatus, parseStop, probeScript, statusScript, stopScript,
} from '../../main/node-services/scripts.js';
import { ntpCell, renderServicesTable } from '../../main/cli/services.js';

const syntaxOk = (script: string) => spawnSync('sh', ['-n'], { input: script, encoding: 'utf8' });

describe('probe', () => {
  test('parse', () => {
    expect(parseProbe('n1', 'iface=eth0\nmac=52:54:4d:00:00:01\nout=eth0\ntool_dnsmasq=1\ntool_keepalived=1\ntool_nft=1\ntool_chronyd=0\n')).toEqual({
      node: 'n1', iface: 'eth0', mac: '52:54:4d:00:00:01', outIface: 'eth0', tools: { dnsmasq: true, keepalived: true, nft: true, chronyd: false },
    });
  });
  test('no interface carries the address, no default route, nothing installed', () => {
    expect(parseProbe('n2', 'iface=\nout=\ntool_dnsmasq=0\ntool_keepalived=0\ntool_nft=0\ntool_chronyd=0\n')).toEqual({
      node: 'n2', tools: { dnsmasq: false, keepalived: false, nft: false, chronyd: false },
    });
  });
  test('garbage lines are ignored', () => {
    expect(parseProbe('n3', 'Welcome!\n=x\niface=br0\n').iface).toBe('br0');
  });
  test('runs on this machine and finds the loopback address on lo', () => {
    const r = spawnSync('sh', ['-c', probeScript('127.0.0.1')], { encoding: 'utf8' });
    expect(r.status).toBe(0);
    const f = parseProbe('local', r.stdout);
    expect(f.iface).toBe('lo');
    expect(f.mac).toBe('00:00:00:00:00:00');
    expect(f.tools).toEqual({ dnsmasq: true, keepalived: true, nft: true, chronyd: expect.any(Boolean) });
  });
  test('an address with shell characters stays data', () => {
    const r = spawnSync('sh', ['-c', probeScript(`1'; echo pwned; '`)], { encoding: 'utf8' });
    expect(r.stdout).not.toMatch(/^pwned/m);
    expect(parseProbe('x', r.stdout).iface).toBeUndefined();
  });
});

describe('deploy script', () => {
  const m = Manifest.parse({ version: 1, name: 'lab', clusterNetwork: '10.77.0.0/24', nodes: [{ name: 'n1', address: '10.77.0.1', cores: 1, memMb: 128 }] });
  const facts = [{ node: 'n1', iface: 'eth0', mac: '52:54:4d:00:00:01', tools: { dnsmasq: true, keepalived: true, nft: true, chronyd: true } }];
  const plan = planServices(m, facts);
  const input = (ntp: boolean, keepClock: boolean) => ({
    files: renderNodeFiles(plan, plan.nodes[0]), tftpRoot: plan.tftpRoot, vip: plan.vip, prefix: plan.prefix, iface: 'eth0', ntp, keepClock,
  });

  test.each([[false, false], [true, false], [true, true]])('is valid sh (ntp %s, keepClock %s)', (ntp, keepClock) => {
    const s = deployScript(input(ntp, keepClock));
    expect(syntaxOk(s).stderr).toBe('');
    expect(s.includes('chronyd')).toBe(ntp);
    expect(s.includes('chronyd -x -f')).toBe(keepClock);
  });

  test('file contents travel as base64 arguments, never as shell text', () => {
    const files = [{ path: '/etc/virtualinux/services/x.conf', mode: 0o644, content: "it's $(rm -rf /) `x`\n" }];
    const s = deployScript({ ...input(false, false), files });
    expect(s).toContain(`put /etc/virtualinux/services/x.conf 644 ${Buffer.from(files[0].content).toString('base64')}`);
    expect(s).not.toContain('rm -rf');
  });

  test.each([
    ['all started', 'file\t/etc/virtualinux/services/dnsmasq.conf\twritten\t\nsvc\tdnsmasq\tstarted\t123\nsvc\tkeepalived\tstarted\t456\n', {
      written: ['/etc/virtualinux/services/dnsmasq.conf'],
      services: [{ service: 'dnsmasq', action: 'started', pid: 123 }, { service: 'keepalived', action: 'started', pid: 456 }],
    }],
    ['kept and reloaded', 'svc\tdnsmasq\tkept\t7\nsvc\tkeepalived\treloaded\t8\n', {
      written: [], services: [{ service: 'dnsmasq', action: 'kept', pid: 7 }, { service: 'keepalived', action: 'reloaded', pid: 8 }],
    }],
    ['a failure keeps its message', 'svc\tdnsmasq\tfailed\tdnsmasq: failed to create listening socket for 10.77.0.1: Address in use \n', {
      written: [], services: [{ service: 'dnsmasq', action: 'failed', message: 'dnsmasq: failed to create listening socket for 10.77.0.1: Address in use' }],
    }],
    ['a failure without a message', 'svc\tkeepalived\tfailed\t\n', { written: [], services: [{ service: 'keepalived', action: 'failed', message: 'no message' }] }],
    ['unknown records and services are ignored', 'svc\tsshd\tstarted\t1\nsvc\tdnsmasq\texploded\t2\nnoise\n', { written: [], services: [] }],
  ])('parse: %s', (_n, out, want) => expect(parseDeploy(out)).toEqual(want));
});

describe('status', () => {
  test('is valid sh', () => expect(syntaxOk(statusScript()).stderr).toBe(''));

  test('runs on this machine: nothing deployed here', () => {
    const r = spawnSync('sh', ['-c', statusScript()], { encoding: 'utf8' });
    const s = parseStatus(r.stdout);
    expect(s.deployed).toBe(false);
    expect(s.holdsVip).toBe(false);
    expect(s.services.map((x) => x.service)).toEqual(['dnsmasq', 'keepalived', 'chronyd', 'ganesha']);
    expect(s.services.find((x) => x.service === 'dnsmasq')?.state).toBe('stopped');
  });

  const out = (o: { k?: string; vrrp?: string; vip?: string; nat?: string } = {}) => [
    'svc\tdnsmasq\trunning\t11',
    `svc\tkeepalived\t${o.k ?? 'running\t12'}`,
    'svc\tchronyd\tabsent\t',
    'deployed\tyes\t10.77.0.253\t',
    `vip\t${o.vip ?? 'held'}\t10.77.0.253\t`,
    `vrrp\t${o.vrrp ?? 'MASTER'}\t-\t`,
    `nat\t${o.nat ?? 'on'}\t\t`,
  ].join('\n');

  test('the holder', () => {
    expect(parseStatus(out())).toEqual({
      deployed: true, vip: '10.77.0.253', holdsVip: true, vrrp: 'MASTER', nat: true,
      services: [{ service: 'dnsmasq', state: 'running', pid: 11 }, { service: 'keepalived', state: 'running', pid: 12 }, { service: 'chronyd', state: 'absent' }],
    });
  });
  test.each<[string, Parameters<typeof out>[0], string | undefined, boolean]>([
    ['a backup', { vrrp: 'BACKUP', vip: 'free', nat: 'off' }, 'BACKUP', false],
    ['keepalived dead: its last state is stale, not reported', { k: 'stopped\t', vrrp: 'MASTER' }, undefined, true],
    ['no state yet', { vrrp: '' }, undefined, true],
    ['an unknown state', { vrrp: 'BOGUS' }, undefined, true],
  ])('%s', (_n, o, vrrp, holds) => {
    const r = parseStatus(out(o));
    expect(r.vrrp).toBe(vrrp);
    expect(r.holdsVip).toBe(holds);
  });

  test.each([
    ['a follower', 'ntp\t0A4D0001\t10.77.0.1\t11,Normal\n', { synced: true, local: false, stratum: 11, source: '10.77.0.1' }],
    ['the orphan root', 'ntp\t7F7F0101\t\t10,Normal\n', { synced: true, local: true, stratum: 10 }],
    ['not synchronised', 'ntp\t00000000\t0.0.0.0\t0,Not synchronised\n', { synced: false, local: false, stratum: 0 }],
    ['garbage stratum', 'ntp\t00000000\t\tx,Normal\n', { synced: false, local: false, stratum: 16 }],
  ])('chrony: %s', (_n, line, want) => expect(parseStatus(line).ntp).toEqual(want));

  test('nothing deployed', () => {
    expect(parseStatus('svc\tdnsmasq\tstopped\t\ndeployed\tno\t\t\nvip\tfree\t\t\nvrrp\t\t-\t\nnat\toff\t\t\n')).toEqual({
      deployed: false, holdsVip: false, nat: false, services: [{ service: 'dnsmasq', state: 'stopped' }],
    });
  });
});

describe('stop', () => {
  test('is valid sh', () => expect(syntaxOk(stopScript()).stderr).toBe(''));
  test('parse', () => {
    expect(parseStop('svc\tkeepalived\tstopped\t12\nsvc\tdnsmasq\tidle\t\nsvc\tchronyd\tidle\t\n')).toEqual([
      { service: 'keepalived', stopped: true, pid: 12 }, { service: 'dnsmasq', stopped: false }, { service: 'chronyd', stopped: false },
    ]);
  });
});

describe('vlx services status table', () => {
  const node = (name: string, holds: boolean, extra: object = {}) => ({
    node: name, address: `10.77.0.${name.slice(1)}`, reachable: true, deployed: true, vip: '10.77.0.253', holdsVip: holds, nat: holds,
    vrrp: holds ? 'MASTER' as const : 'BACKUP' as const,
    services: [
      { service: 'dnsmasq' as const, state: 'running' as const, pid: 100 },
      { service: 'keepalived' as const, state: 'running' as const, pid: 200 },
      { service: 'chronyd' as const, state: 'absent' as const },
      { service: 'ganesha' as const, state: 'running' as const, pid: 300 },
    ],
    ...extra,
  });

  test('one holder, one node down', () => {
    expect(renderServicesTable({
      vip: '10.77.0.253', holders: ['n1'],
      nodes: [node('n1', true), node('n2', false), { ...node('n3', false), reachable: false, error: { code: 'unreachable', message: 'x' }, services: [] }],
    })).toBe([
      'NODE  ADDRESS    DNSMASQ      KEEPALIVED   CHRONYD        GANESHA      NTP  VRRP    GATEWAY',
      'n1    10.77.0.1  running 100  running 200  not installed  running 300  -    MASTER  * holds 10.77.0.253 (NAT on)',
      'n2    10.77.0.2  running 100  running 200  not installed  running 300  -    BACKUP',
      'n3    10.77.0.3  unreachable',
      '',
      'gateway VIP 10.77.0.253: held by n1',
      '',
    ].join('\n'));
  });

  test.each([
    [undefined, '-'],
    [{ synced: true, local: false, stratum: 11, source: '10.77.0.1' }, 'synced to 10.77.0.1'],
    [{ synced: true, local: true, stratum: 10 }, 'own clock (stratum 10)'],
    [{ synced: false, local: false, stratum: 16 }, 'unsynced'],
  ])('NTP cell %j', (ntp, want) => expect(ntpCell(ntp)).toBe(want));

  test('two holders are called out', () => {
    expect(renderServicesTable({ vip: '10.77.0.253', holders: ['n1', 'n2'], nodes: [node('n1', true), node('n2', true)] }))
      .toMatch(/held by 2 nodes at once \(n1, n2\): a split brain/);
  });
  test('not deployed', () => {
    expect(renderServicesTable({ holders: [], nodes: [] })).toMatch(/gateway VIP \(not deployed\): held by no node/);
  });
});
