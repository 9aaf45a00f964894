import { describe, expect, test } from 'vitest';
import { nodeServicesView } from '../../main/service/views.js';
import type { ServicesStatus } from '../../main/api/contract.js';

type Row = ServicesStatus['nodes'][number];

const row = (o: Partial<Row> = {}): Row => ({
  node: 'n1', address: '10.77.0.1', reachable: true, deployed: true, vip: '10.77.0.253', holdsVip: false, nat: false, vrrp: 'BACKUP',
  services: [
    { service: 'dnsmasq', state: 'running', pid: 1 },
    { service: 'keepalived', state: 'running', pid: 2 },
    { service: 'chronyd', state: 'running', pid: 3 },
    { service: 'ganesha', state: 'running', pid: 4 },
  ],
  ntp: { synced: true, local: false, stratum: 11, source: '10.77.0.2' },
  ...o,
});

describe('nodeServicesView: what the Topology lanes show per node', () => {
  test('a backup, synced to a peer, serving NFS', () => {
    expect(nodeServicesView(row())).toEqual([
      { name: 'gateway', state: 'backup', detail: 'VRRP BACKUP' },
      { name: 'dhcp-dns', state: 'running' },
      { name: 'ntp', state: 'running', detail: 'synced to 10.77.0.2' },
      { name: 'nfs', state: 'running' },
    ]);
  });

  test('the VIP holder, the orphan root of the clocks', () => {
    const v = nodeServicesView(row({ holdsVip: true, nat: true, vrrp: 'MASTER', ntp: { synced: true, local: true, stratum: 10 } }));
    expect(v[0]).toEqual({ name: 'gateway', state: 'master', detail: 'holds 10.77.0.253, NAT on' });
    expect(v[2]).toEqual({ name: 'ntp', state: 'running', detail: 'own clock, stratum 10' });
  });

  test('dead daemons and an unsynchronised clock show as such', () => {
    const v = nodeServicesView(row({
      services: [
        { service: 'dnsmasq', state: 'stopped' }, { service: 'keepalived', state: 'stopped' },
        { service: 'chronyd', state: 'running', pid: 3 }, { service: 'ganesha', state: 'stopped' },
      ],
      ntp: { synced: false, local: false, stratum: 16 },
    }));
    expect(v).toEqual([
      { name: 'gateway', state: 'stopped' },
      { name: 'dhcp-dns', state: 'stopped' },
      { name: 'ntp', state: 'unknown', detail: 'not synchronised' },
      { name: 'nfs', state: 'stopped' },
    ]);
  });

  test('never deployed: only what runs anyway (the NFS server of VCs); unreachable: nothing', () => {
    expect(nodeServicesView(row({ deployed: false, services: [{ service: 'dnsmasq', state: 'stopped' }, { service: 'chronyd', state: 'absent' }, { service: 'ganesha', state: 'running', pid: 4 }] })))
      .toEqual([{ name: 'nfs', state: 'running' }]);
    expect(nodeServicesView(row({ reachable: false }))).toEqual([]);
    expect(nodeServicesView(undefined)).toEqual([]);
  });
});
