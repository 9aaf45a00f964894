import { describe, expect, test } from 'vitest';
import { Manifest } from '../../main/domain/manifest.js';
import { VlxError } from '../../main/errors.js';
import {
  checkIface, checkMac, defaultVip, gatewayRanking, planServices, priorityOf, type NodeFacts,
} from '../../main/node-services/plan.js';

const base = (extra: Record<string, unknown> = {}): Manifest => Manifest.parse({
  version: 1,
  name: 'lab',
  nodes: [1, 2, 3, 4].map((i) => ({ name: `n${i}`, address: `10.77.0.${i}`, cores: 4, memMb: 8192 })),
  clusterNetwork: '10.77.0.0/24',
  ...extra,
});

const facts = (names: string[], over: Partial<NodeFacts> = {}): NodeFacts[] => names.map((n) => ({
  node: n,
  iface: 'eth0',
  mac: `52:54:4d:00:00:0${n.slice(1)}`,
  outIface: 'eth0',
  tools: { dnsmasq: true, keepalived: true, nft: true, chronyd: false },
  ...over,
}));

const ALL = ['n1', 'n2', 'n3', 'n4'];

function invalidMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(VlxError);
    expect((e as VlxError).code).toBe('invalid-input');
    return (e as VlxError).message;
  }
  throw new Error('expected invalid-input');
}

describe('defaultVip', () => {
  test.each([
    ['10.77.0.0/24', '10.77.0.253'],
    ['10.77.0.0/16', '10.77.0.253'],
    ['192.168.4.0/23', '192.168.4.253'],
    ['10.0.0.0/8', '10.0.0.253'],
    ['10.1.2.0/25', '10.1.2.126'],
    ['10.1.2.128/26', '10.1.2.190'],
    ['10.1.2.0/29', '10.1.2.6'],
    ['10.1.2.4/30', '10.1.2.6'],
  ])('%s → %s', (net, vip) => expect(defaultVip(net)).toBe(vip));

  test.each([['10.1.2.0/31'], ['10.1.2.1/32'], ['10.1.2.1/24'], ['nonsense']])('%s is refused', (net) => {
    expect(invalidMessage(() => defaultVip(net))).toMatch(/^clusterNetwork: /);
  });
});

describe('checkMac / checkIface', () => {
  test.each([
    ['52:54:00:12:34:56', '52:54:00:12:34:56'],
    ['52:54:00:AB:cd:EF', '52:54:00:ab:cd:ef'],
    ['02:00:00:00:00:00', '02:00:00:00:00:00'],
  ])('MAC %s → %s', (v, want) => expect(checkMac(v, 'mac')).toBe(want));

  test.each([
    ['01:00:5e:00:00:01', /unicast/],
    ['ff:ff:ff:ff:ff:ff', /unicast/],
    ['52:54:00:12:34', /MAC address/],
    ['52-54-00-12-34-56', /MAC address/],
    ['52:54:00:12:34:5g', /MAC address/],
    ['', /MAC address/],
    [42, /MAC address/],
  ])('MAC %s refused', (v, why) => expect(invalidMessage(() => checkMac(v, 'nodes[0].mac'))).toMatch(why));

  test.each(['eth0', 'enp3s0f1', 'br-lan', 'bond0.100', 'vlxlab0', 'a23456789012345'])('iface %s ok', (v) => expect(checkIface(v, 'i')).toBe(v));
  test.each(['', 'a234567890123456', 'eth0;reboot', 'eth 0', '-eth0', 'eth0/1', '$(x)'])('iface %j refused', (v) => {
    expect(invalidMessage(() => checkIface(v, 'gateway.interface'))).toMatch(/^gateway.interface: must be an interface name/);
  });
});

describe('gateway ranking and priorities', () => {
  test.each([
    [undefined, ['n1', 'n2', 'n3', 'n4']],
    [[], ['n1', 'n2', 'n3', 'n4']],
    [['n4'], ['n4', 'n1', 'n2', 'n3']],
    [['n3', 'n1'], ['n3', 'n1', 'n2', 'n4']],
    [['n4', 'n3', 'n2', 'n1'], ['n4', 'n3', 'n2', 'n1']],
  ])('order %j → %j', (order, want) => expect(gatewayRanking(ALL, order)).toEqual(want));

  test.each([
    [['n9'], /gateway.order\[0\]: must be a node of the manifest/],
    [['n1', 'n1'], /gateway.order\[1\]: must not repeat a node/],
    [['N1'], /gateway.order\[0\]: must be 1-32 chars/],
  ])('order %j refused', (order, why) => expect(invalidMessage(() => gatewayRanking(ALL, order))).toMatch(why));

  test.each([[0, 250], [1, 249], [100, 150], [249, 1], [250, 1], [1000, 1]])('rank %i → priority %i', (rank, p) => expect(priorityOf(rank)).toBe(p));
});

describe('planServices', () => {
  test('the lab: VIP .253, nodes by manifest order, peers are all other nodes, MACs learned', () => {
    const p = planServices(base(), facts(ALL));
    expect(p).toMatchObject({
      cluster: 'lab', network: '10.77.0.0/24', netmask: '255.255.255.0', prefix: 24, vip: '10.77.0.253', routerId: 51,
      addresses: ['10.77.0.1', '10.77.0.2', '10.77.0.3', '10.77.0.4'],
      natSources: ['10.77.0.0/24', '10.200.0.0/16'], leaseTime: '12h', tftpRoot: '/srv/virtualinux/tftp',
      nodesWithoutMac: [], skipped: [], upstreamDns: [], ntpUpstream: [],
    });
    expect(p.dhcpHosts).toEqual(ALL.map((n, i) => ({ mac: `52:54:4d:00:00:0${i + 1}`, ip: `10.77.0.${i + 1}`, name: n })));
    expect(p.nodes.map((n) => [n.name, n.priority, n.peers.join(' ')])).toEqual([
      ['n1', 250, '10.77.0.2 10.77.0.3 10.77.0.4'],
      ['n2', 249, '10.77.0.1 10.77.0.3 10.77.0.4'],
      ['n3', 248, '10.77.0.1 10.77.0.2 10.77.0.4'],
      ['n4', 247, '10.77.0.1 10.77.0.2 10.77.0.3'],
    ]);
  });

  test('a down node: left alone, still a VRRP peer; its manifest MAC keeps it in the DHCP map', () => {
    const m = base();
    m.nodes[3].mac = '52:54:4D:00:00:44';
    const p = planServices(m, facts(['n1', 'n2', 'n3']));
    expect(p.skipped).toEqual(['n4']);
    expect(p.nodes.map((n) => n.name)).toEqual(['n1', 'n2', 'n3']);
    expect(p.nodes[0].peers).toContain('10.77.0.4');
    expect(p.dhcpHosts.at(-1)).toEqual({ mac: '52:54:4d:00:00:44', ip: '10.77.0.4', name: 'n4' });
  });

  test('a down node with no MAC anywhere gets no DHCP entry and is named', () => {
    const p = planServices(base(), facts(['n1', 'n2']));
    expect(p.nodesWithoutMac).toEqual(['n3', 'n4']);
    expect(p.dhcpHosts.map((h) => h.name)).toEqual(['n1', 'n2']);
  });

  test('the manifest MAC wins over the reported one', () => {
    const m = base();
    m.nodes[0].mac = '02:00:00:00:00:01';
    expect(planServices(m, facts(ALL)).dhcpHosts[0].mac).toBe('02:00:00:00:00:01');
  });

  test('gateway fields: vip, router id, interfaces, order', () => {
    const p = planServices(base({ gateway: { vip: '10.77.0.100', routerId: 7, interface: 'br0', outInterface: 'wan0', order: ['n3'] } }), facts(ALL));
    expect(p.vip).toBe('10.77.0.100');
    expect(p.routerId).toBe(7);
    expect(p.nodes.map((n) => [n.name, n.iface, n.outIface, n.priority])).toEqual([
      ['n1', 'br0', 'wan0', 249], ['n2', 'br0', 'wan0', 248], ['n3', 'br0', 'wan0', 250], ['n4', 'br0', 'wan0', 247],
    ]);
  });

  test('no default route reported: NAT leaves by the cluster interface', () => {
    const f = facts(ALL).map(({ outIface: _o, ...rest }) => rest);
    expect(planServices(base(), f).nodes.every((n) => n.outIface === 'eth0')).toBe(true);
  });

  test('services options', () => {
    const p = planServices(base({
      services: {
        dhcp: { hosts: [{ mac: '52:54:4D:00:00:F0', ip: '10.77.0.240', name: 'spare1' }], leaseTime: 'infinite', bootFile: 'ipxe/boot.ipxe' },
        dns: { domain: 'cluster.lan', upstream: ['10.0.0.53'] },
        ntp: { upstream: ['ntp.example.org', '10.0.0.123'] },
      },
    }), facts(ALL, { tools: { dnsmasq: true, keepalived: true, nft: true, chronyd: true } }));
    expect(p.dhcpHosts.at(-1)).toEqual({ mac: '52:54:4d:00:00:f0', ip: '10.77.0.240', name: 'spare1' });
    expect(p).toMatchObject({ leaseTime: 'infinite', bootFile: 'ipxe/boot.ipxe', domain: 'cluster.lan', upstreamDns: ['10.0.0.53'], ntpUpstream: ['ntp.example.org', '10.0.0.123'] });
    expect(p.nodes.every((n) => n.ntp)).toBe(true);
  });

  test('a VC pool equal to the cluster network is NATed once', () => {
    expect(planServices(base({ vcSubnetPool: '10.77.0.0/24' }), facts(ALL)).natSources).toEqual(['10.77.0.0/24']);
  });

  const m = base;
  test.each<[string, () => Manifest, RegExp]>([
    ['cluster network with host bits', () => m({ clusterNetwork: '10.77.0.1/24' }), /^clusterNetwork: has host bits set/],
    ['cluster network too small', () => m({ clusterNetwork: '10.77.0.0/31' }), /^clusterNetwork: must be a \/30 or larger/],
    ['node outside the network', () => { const x = m(); x.nodes[1].address = '10.78.0.2'; return x; }, /^nodes\[1\].address: must be inside the cluster network 10.77.0.0\/24/],
    ['node by host name', () => { const x = m(); x.nodes[1].address = 'n2.example'; return x; }, /^nodes\[1\].address: must be an IPv4 address \(VRRP/],
    ['node on the broadcast address', () => { const x = m(); x.nodes[1].address = '10.77.0.255'; return x; }, /^nodes\[1\].address: must not be the network or broadcast address/],
    ['two nodes, one address', () => { const x = m(); x.nodes[1].address = '10.77.0.1'; return x; }, /^nodes: must not give two nodes the same address/],
    ['two nodes, one name', () => { const x = m(); x.nodes[1].name = 'n1'; return x; }, /^nodes: must not name a node twice/],
    ['bad node name', () => { const x = m(); x.nodes[1].name = 'N2;x'; return x; }, /^nodes\[1\].name: must be 1-32 chars/],
    ['VIP outside', () => m({ gateway: { vip: '10.1.1.1' } }), /^gateway.vip: must be inside the cluster network/],
    ['VIP of a node', () => m({ gateway: { vip: '10.77.0.3' } }), /^gateway.vip: must not be the address of a node/],
    ['VIP not an address', () => m({ gateway: { vip: '10.77.0.x' } }), /^gateway.vip: must be an IPv4 address/],
    ['router id 0', () => m({ gateway: { routerId: 0 } }), /^gateway.routerId: must be a whole number from 1 to 255/],
    ['router id 256', () => m({ gateway: { routerId: 256 } }), /^gateway.routerId: must be a whole number from 1 to 255/],
    ['bad interface', () => m({ gateway: { interface: 'eth0 up' } }), /^gateway.interface: must be an interface name/],
    ['bad out interface', () => m({ gateway: { outInterface: '' } }), /^gateway.outInterface: must be an interface name/],
    ['bad node MAC', () => { const x = m(); x.nodes[2].mac = 'nope'; return x; }, /^nodes\[2\].mac: must be a MAC address/],
    ['extra host MAC', () => m({ services: { dhcp: { hosts: [{ mac: 'x', ip: '10.77.0.9', name: 'a' }] } } }), /^services.dhcp.hosts\[0\].mac: /],
    ['extra host outside', () => m({ services: { dhcp: { hosts: [{ mac: '02:00:00:00:00:09', ip: '10.9.0.9', name: 'a' }] } } }), /^services.dhcp.hosts\[0\].ip: must be inside/],
    ['extra host on the VIP', () => m({ services: { dhcp: { hosts: [{ mac: '02:00:00:00:00:09', ip: '10.77.0.253', name: 'a' }] } } }), /^services.dhcp.hosts\[0\].ip: must not be the gateway VIP/],
    ['extra host name', () => m({ services: { dhcp: { hosts: [{ mac: '02:00:00:00:00:09', ip: '10.77.0.9', name: 'A,B' }] } } }), /^services.dhcp.hosts\[0\].name: must be a host name/],
    ['duplicate MAC', () => m({ services: { dhcp: { hosts: [{ mac: '52:54:4d:00:00:01', ip: '10.77.0.9', name: 'a' }] } } }), /^DHCP map: must not hold the mac 52:54:4d:00:00:01 twice/],
    ['duplicate IP', () => m({ services: { dhcp: { hosts: [{ mac: '02:00:00:00:00:09', ip: '10.77.0.2', name: 'a' }] } } }), /^DHCP map: must not hold the address 10.77.0.2 twice/],
    ['duplicate name', () => m({ services: { dhcp: { hosts: [{ mac: '02:00:00:00:00:09', ip: '10.77.0.9', name: 'n1' }] } } }), /^DHCP map: must not hold the name n1 twice/],
    ['lease time', () => m({ services: { dhcp: { leaseTime: '12 hours' } } }), /^services.dhcp.leaseTime: /],
    ['boot file escaping the root', () => m({ services: { dhcp: { bootFile: '../etc/shadow' } } }), /^services.dhcp.bootFile: must be a relative path/],
    ['absolute boot file', () => m({ services: { dhcp: { bootFile: '/pxelinux.0' } } }), /^services.dhcp.bootFile: /],
    ['domain', () => m({ services: { dns: { domain: 'Cluster_Lan' } } }), /^services.dns.domain: /],
    ['upstream DNS by name', () => m({ services: { dns: { upstream: ['dns.example'] } } }), /^services.dns.upstream\[0\]: must be an IPv4 address/],
    ['NTP upstream', () => m({ services: { ntp: { upstream: ['a b'] } } }), /^services.ntp.upstream\[0\]: /],
    ['shared root with a space', () => m({ sharedRoot: '/srv/virtual linux' }), /^sharedRoot: must be an absolute path/],
    ['VC pool', () => m({ vcSubnetPool: '10.200.0.0' }), /^vcSubnetPool: /],
    ['order naming a stranger', () => m({ gateway: { order: ['n7'] } }), /^gateway.order\[0\]: must be a node of the manifest/],
  ])('refused: %s', (_name, make, why) => {
    expect(invalidMessage(() => planServices(make(), facts(ALL)))).toMatch(why);
  });

  test.each<[string, Partial<NodeFacts>, RegExp]>([
    ['no interface carries the address', { iface: undefined }, /^node n1: must carry its address 10.77.0.1 on an interface/],
    ['a reported interface name is odd', { iface: 'eth0 x' }, /^interface of node n1: must be an interface name/],
    ['a reported MAC is odd', { mac: 'zz' }, /^MAC reported by node n1: must be a MAC address/],
  ])('refused from the probe: %s', (_name, over, why) => {
    const f = facts(ALL);
    f[0] = { ...f[0], ...over };
    if ('iface' in over && over.iface === undefined) delete f[0].iface;
    expect(invalidMessage(() => planServices(base(), f))).toMatch(why);
  });
});
