import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { outcome } from '../support/outcome.js';
import { execFileSync } from 'node:child_process';
import { renderNftRemoval, renderNodeFirewall, type NodeFirewall } from '../../main/network/nft.js';
import { vmAddress } from '../../main/domain/addressing.js';


const vm = (vc: string, subnet: string, i: number) => {
  const a = vmAddress(vc, subnet, i);
  return { vc, ip: a.ip, mac: a.mac, tap: a.tap };
};

const guard = { managementNetworks: ['10.77.0.0/24'], nodeAddress: '10.77.0.2' };

const twoVcs: NodeFirewall = {
  vcs: [{ name: 'web', subnet: '10.200.1.0/24' }, { name: 'db', subnet: '10.200.0.0/24' }, { name: 'idle', subnet: '10.200.2.0/28' }],
  vms: [vm('web', '10.200.1.0/24', 2), vm('db', '10.200.0.0/24', 1), vm('web', '10.200.1.0/24', 1)],
  guard,
};

const HEADER = [
  '# VirtuaLinux Manager: VC insulation and anti-spoofing for this node. Generated: edit the VCs, not this file.',
  'table inet vlx {}',
  'delete table inet vlx',
  'table arp vlx {}',
  'delete table arp vlx',
];

describe('renderNodeFirewall', () => {
  it('renders the whole file for two VCs with VMs here and one without', () => {
    expect(renderNodeFirewall(twoVcs).split('\n')).toEqual([
      ...HEADER,
      'table inet vlx {',
      '\tset vc_nets {',
      '\t\ttype ipv4_addr',
      '\t\tflags interval',
      '\t\telements = { 10.200.0.0/24, 10.200.1.0/24, 10.200.2.0/28 }',
      '\t}',
      '',
      '\tset mgmt_nets {',
      '\t\ttype ipv4_addr',
      '\t\tflags interval',
      '\t\telements = { 10.77.0.0/24 }',
      '\t}',
      '',
      '\tset vc_gateways {',
      '\t\ttype ipv4_addr',
      '\t\telements = { 10.200.0.1, 10.200.1.1, 10.200.2.1 }',
      '\t}',
      '',
      '\tchain prerouting {',
      '\t\ttype filter hook prerouting priority raw; policy accept;',
      '\t\tiifname "vt0ac80002" ether saddr != 0a:00:0a:c8:00:02 drop',
      '\t\tiifname "vt0ac80002" meta nfproto != ipv4 drop',
      '\t\tiifname "vt0ac80002" ip saddr != 10.200.0.2 drop',
      '\t\tiifname "vt0ac80102" ether saddr != 0a:00:0a:c8:01:02 drop',
      '\t\tiifname "vt0ac80102" meta nfproto != ipv4 drop',
      '\t\tiifname "vt0ac80102" ip saddr != 10.200.1.2 drop',
      '\t\tiifname "vt0ac80103" ether saddr != 0a:00:0a:c8:01:03 drop',
      '\t\tiifname "vt0ac80103" meta nfproto != ipv4 drop',
      '\t\tiifname "vt0ac80103" ip saddr != 10.200.1.3 drop',
      '\t}',
      '',
      '\tchain dstnat {',
      '\t\ttype nat hook prerouting priority dstnat; policy accept;',
      '\t\tiifname "vt*" ip daddr @vc_gateways meta l4proto { tcp, udp } th dport 53 dnat ip to 10.77.0.2',
      '\t\tiifname "vt*" ip daddr @vc_gateways udp dport 123 dnat ip to 10.77.0.2',
      '\t}',
      '',
      '\tchain input {',
      '\t\ttype filter hook input priority filter; policy accept;',
      '\t\tiifname "vt*" ct state established,related accept',
      '\t\tiifname "vt*" udp dport 67 accept',
      '\t\tiifname "vt*" ct status dnat ip daddr 10.77.0.2 meta l4proto { tcp, udp } th dport { 53, 123 } accept',
      '\t\tiifname "vt*" ip daddr @vc_gateways tcp dport { 2049, 20048 } accept',
      '\t\tiifname "vt*" ip daddr @vc_gateways icmp type echo-request accept',
      '\t\tiifname "vt*" drop',
      '\t}',
      '',
      '\tchain forward {',
      '\t\ttype filter hook forward priority filter; policy accept;',
      '\t\tip saddr @vc_nets ip daddr @mgmt_nets ct state established,related accept',
      '\t\tip saddr @vc_nets ip daddr @mgmt_nets drop',
      '\t\tiifname "vt*" ip daddr @mgmt_nets drop',
      '\t\tip saddr 10.200.0.0/24 ip daddr @vc_nets ip daddr != 10.200.0.0/24 drop',
      '\t\tip saddr 10.200.1.0/24 ip daddr @vc_nets ip daddr != 10.200.1.0/24 drop',
      '\t\tip saddr 10.200.2.0/28 ip daddr @vc_nets ip daddr != 10.200.2.0/28 drop',
      '\t}',
      '}',
      'table arp vlx {',
      '\tchain input {',
      '\t\ttype filter hook input priority filter; policy accept;',
      '\t\tiifname "vt0ac80002" arp saddr ether != 0a:00:0a:c8:00:02 drop',
      '\t\tiifname "vt0ac80002" arp saddr ip != 10.200.0.2 drop',
      '\t\tiifname "vt0ac80102" arp saddr ether != 0a:00:0a:c8:01:02 drop',
      '\t\tiifname "vt0ac80102" arp saddr ip != 10.200.1.2 drop',
      '\t\tiifname "vt0ac80103" arp saddr ether != 0a:00:0a:c8:01:03 drop',
      '\t\tiifname "vt0ac80103" arp saddr ip != 10.200.1.3 drop',
      '\t}',
      '}',
      '',
    ]);
  });

  it('renders the same text whatever the input order', () => {
    const shuffled = { vcs: [...twoVcs.vcs].reverse(), vms: [...twoVcs.vms].reverse(), guard };
    expect(renderNodeFirewall(shuffled)).toBe(renderNodeFirewall(twoVcs));
  });

  it('a node with no VCs gets empty tables (which still replace any old rules)', () => {
    const text = renderNodeFirewall({ vcs: [], vms: [], guard });
    // Even with no VC, no tap may reach the node: the guard does not wait for the first VC.
    expect(text).not.toMatch(/vc_nets {[^}]*elements/);
    expect(text).toContain('iifname "vt*" drop');
    expect(text.startsWith(HEADER.join('\n'))).toBe(true);
  });

  it('a VC with no VMs on this node is still insulated here', () => {
    const text = renderNodeFirewall({ vcs: [{ name: 'a', subnet: '10.200.5.0/24' }], vms: [], guard });
    expect(text).toContain('ip saddr 10.200.5.0/24 ip daddr @vc_nets ip daddr != 10.200.5.0/24 drop');
  });

  it.each([
    ['VM of an unknown VC', { vcs: [], vms: [vm('web', '10.200.1.0/24', 1)] }, 'VM VC: must be one of the VCs given (got "web")'],
    ['VM outside its subnet', { vcs: [{ name: 'web', subnet: '10.200.2.0/24' }], vms: [vm('web', '10.200.1.0/24', 1)] }, 'VM address: must be an IPv4 address inside 10.200.2.0/24 (got "10.200.1.2")'],
    ['VC twice', { vcs: [{ name: 'a', subnet: '10.200.1.0/24' }, { name: 'a', subnet: '10.200.2.0/24' }], vms: [] }, 'VC name: must appear once (got "a")'],
    ['bad VC name', { vcs: [{ name: 'a"b', subnet: '10.200.1.0/24' }], vms: [] }, 'VC name: must be 1-24 chars: a lowercase letter, then lowercase letters, digits or "-" (got "a\\"b")'],
    ['bad subnet', { vcs: [{ name: 'a', subnet: '10.200.1.0/24 }' }], vms: [] }, 'subnet of a: must be an IPv4 CIDR like 10.200.3.0/24 (got "10.200.1.0/24 }")'],
    ['MAC with nft syntax', { vcs: [{ name: 'a', subnet: '10.200.1.0/24' }], vms: [{ vc: 'a', ip: '10.200.1.2', mac: '0a:00:0a:c8:01:02 accept', tap: 't' }] }, 'VM MAC: must be six lowercase hex pairs joined by ":" (got "0a:00:0a:c8:01:02 accept")'],
    ['tap with a quote', { vcs: [{ name: 'a', subnet: '10.200.1.0/24' }], vms: [{ vc: 'a', ip: '10.200.1.2', mac: '0a:00:0a:c8:01:02', tap: 'x" accept' }] }, 'tap name: must be 1-15 chars of letters, digits, ".", "_" or "-" (got "x\\" accept")'],
    ['tap twice', { vcs: [{ name: 'a', subnet: '10.200.1.0/24' }], vms: [{ vc: 'a', ip: '10.200.1.2', mac: '0a:00:0a:c8:01:02', tap: 't' }, { vc: 'a', ip: '10.200.1.3', mac: '0a:00:0a:c8:01:03', tap: 't' }] }, 'tap name: must be unique on a node (got "t")'],
  ])('refuses %s', (_n, fw, message) => {
    expect(outcome(() => renderNodeFirewall({ ...fw, guard }))).toEqual({ code: 'invalid-input', message });
  });

  it.each([
    ['no management network', { managementNetworks: [], nodeAddress: '10.77.0.2' }, 'management networks: must name at least the cluster network (got [])'],
    ['a node address outside them', { managementNetworks: ['10.77.0.0/24'], nodeAddress: '10.78.0.2' }, 'node address: must be an IPv4 address inside a management network (10.77.0.0/24) (got "10.78.0.2")'],
    ['a host name as node address', { managementNetworks: ['10.77.0.0/24'], nodeAddress: 'n2' }, 'node address: must be an IPv4 address inside a management network (10.77.0.0/24) (got "n2")'],
    ['a bad network', { managementNetworks: ['10.77.0.0/24; accept'], nodeAddress: '10.77.0.2' }, 'management network 1: must be an IPv4 CIDR like 10.200.3.0/24 (got "10.77.0.0/24; accept")'],
  ])('refuses a guard with %s', (_n, g, message) => {
    expect(outcome(() => renderNodeFirewall({ vcs: [], vms: [], guard: g }))).toEqual({ code: 'invalid-input', message });
  });
});

describe('against nft (a throwaway network namespace)', () => {
  const ns = `vlxtest-nft-${process.pid}`;
  const nft = (args: string[], input?: string) =>
    execFileSync('ip', ['netns', 'exec', ns, 'nft', ...args], { encoding: 'utf8', input });
  beforeAll(() => {
    execFileSync('ip', ['netns', 'add', ns]);
  });
  afterAll(() => {
    execFileSync('ip', ['netns', 'del', ns]);
  });

  it('nft -c accepts every rendered file', () => {
    for (const fw of [twoVcs, { vcs: [], vms: [], guard }, { vcs: [twoVcs.vcs[0]], vms: [], guard }]) {
      nft(['-c', '-f', '-'], renderNodeFirewall(fw));
    }
    nft(['-c', '-f', '-'], renderNftRemoval());
  });

  it('applies atomically and idempotently, replaces on change, and removes cleanly', () => {
    nft(['-f', '-'], renderNodeFirewall(twoVcs));
    const first = nft(['list', 'ruleset']);
    nft(['-f', '-'], renderNodeFirewall(twoVcs));
    expect(nft(['list', 'ruleset'])).toBe(first);
    expect(first.match(/^table /gm)).toEqual(['table ', 'table ']);
    expect(first).toContain('iifname "vt0ac80103" ip saddr != 10.200.1.3 drop');

    // The db VM leaves this node and the db VC is destroyed: its rules go, nothing doubles.
    nft(['-f', '-'], renderNodeFirewall({ vcs: twoVcs.vcs.filter((v) => v.name !== 'db'), vms: twoVcs.vms.filter((v) => v.vc !== 'db'), guard }));
    const after = nft(['list', 'ruleset']);
    expect(after).not.toContain('10.200.0.');
    expect(after).toContain('10.200.1.0/24');

    nft(['-f', '-'], renderNftRemoval());
    expect(nft(['list', 'ruleset']).trim()).toBe('');
    nft(['-f', '-'], renderNftRemoval());
  });
});
