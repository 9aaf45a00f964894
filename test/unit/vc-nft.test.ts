import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { outcome } from '../support/outcome.js';
import { execFileSync, spawn, spawnSync } from 'node:child_process';
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
    ['a host name as public address', { ...guard, publicAddresses: ['gw.example'] }, 'public address 1: must be an IPv4 address (got "gw.example")'],
    ['a CIDR as public address', { ...guard, publicAddresses: ['203.0.113.2', '203.0.113.0/24'] }, 'public address 2: must be an IPv4 address (got "203.0.113.0/24")'],
  ])('refuses a guard with %s', (_n, g, message) => {
    expect(outcome(() => renderNodeFirewall({ vcs: [], vms: [], guard: g }))).toEqual({ code: 'invalid-input', message });
  });

  it('the gateway\'s public address is guarded like a management address; the rest of the outside is not', () => {
    const text = renderNodeFirewall({ ...twoVcs, guard: { ...guard, publicAddresses: ['203.0.113.2'] } });
    expect(text).toContain('\t\telements = { 10.77.0.0/24, 203.0.113.2/32 }');
    expect(text).not.toContain('203.0.113.0');
    // Inside a management network already (nft refuses overlapping intervals), or given twice: once.
    expect(renderNodeFirewall({ ...twoVcs, guard: { ...guard, publicAddresses: ['10.77.0.9', '203.0.113.2', '203.0.113.2'] } }))
      .toContain('\t\telements = { 10.77.0.0/24, 203.0.113.2/32 }');
    expect(renderNodeFirewall({ ...twoVcs, guard: { ...guard, publicAddresses: [] } })).toBe(renderNodeFirewall(twoVcs));
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

/**
 * The guard, for real: a "node" namespace with a VM's tap (a veth named like one), its
 * management address on a link to a "peer" node that also stands for the outside, sshd-like
 * listeners and a dnsmasq. From the "VM" namespace: DNS and NFS on the gateway answer, the
 * outside answers, and every management port is closed while the same port is open from
 * the node itself (the positive control).
 */
describe('the guard against a real kernel (throwaway namespaces)', () => {
  const tag = process.pid.toString(36);
  const ns = { node: `vlxt-gn-${tag}`, vm: `vlxt-gv-${tag}`, peer: `vlxt-gp-${tag}` };
  const a = vmAddress('web', '10.200.5.0/24', 1);
  const sh = (n: string, cmd: string) => spawnSync('ip', ['netns', 'exec', n, 'sh', '-c', cmd], { encoding: 'utf8', timeout: 10_000 });
  const pids: number[] = [];
  const bg = (n: string, argv: string[]) => {
    const p = spawn('ip', ['netns', 'exec', n, ...argv], { stdio: 'ignore' });
    pids.push(p.pid!);
  };
  /** The gateway's public address, which the peer (standing for the VIP holder) carries. */
  const PUBLIC = '198.51.100.9';
  const open = (n: string, ip: string, port: number) => sh(n, `echo | busybox nc -w 1 ${ip} ${port}`).status === 0;

  beforeAll(async () => {
    for (const n of Object.values(ns)) execFileSync('ip', ['netns', 'add', n]);
    const ip = (...args: string[]) => execFileSync('ip', args);
    ip('-n', ns.node, 'link', 'add', a.tap, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns.vm);
    ip('-n', ns.node, 'link', 'add', 'mgmt0', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns.peer);
    const setup = {
      [ns.node]: `ip link set lo up; ip link set ${a.tap} up; ip addr add ${a.gateway}/32 dev ${a.tap}; ip route add ${a.ip}/32 dev ${a.tap};
        ip link set mgmt0 up; ip addr add 10.77.0.2/24 dev mgmt0; ip route add 198.51.100.0/24 via 10.77.0.3; sysctl -qw net.ipv4.ip_forward=1`,
      [ns.vm]: `ip link set lo up; ip link set eth0 address ${a.mac}; ip link set eth0 up; ip addr add ${a.ip}/24 dev eth0; ip route add default via ${a.gateway} dev eth0`,
      [ns.peer]: `ip link set lo up; ip link set eth0 up; ip addr add 10.77.0.3/24 dev eth0; ip addr add 198.51.100.1/32 dev lo; ip addr add 198.51.100.9/32 dev lo; ip route add 10.200.5.0/24 via 10.77.0.2`,
    };
    for (const [n, cmd] of Object.entries(setup)) expect(sh(n, cmd).stderr).toBe('');
    const fw = renderNodeFirewall({ vcs: [{ name: 'web', subnet: '10.200.5.0/24' }], vms: [{ vc: 'web', ip: a.ip, mac: a.mac, tap: a.tap }], guard: { ...guard, publicAddresses: [PUBLIC] } });
    execFileSync('ip', ['netns', 'exec', ns.node, 'nft', '-f', '-'], { input: fw });
    const listen = (n: string, port: number) => bg(n, ['socat', `TCP-LISTEN:${port},reuseaddr,fork`, 'SYSTEM:true']);
    for (const p of [22, 2049, 5432]) listen(ns.node, p);
    for (const p of [22, 5432, 80]) listen(ns.peer, p);
    bg(ns.node, ['dnsmasq', '-k', '-C', '/dev/null', '--listen-address=10.77.0.2', '--bind-interfaces', '--no-resolv', '--no-hosts',
      '--host-record=n3,10.77.0.3', `--pid-file=/tmp/vlxt-dnsmasq-${tag}.pid`, '--port=53']);
    // Listening before the checks: a refusal must never be a race with the start.
    for (let i = 0; i < 50 && !(open(ns.node, '10.77.0.2', 22) && open(ns.peer, '10.77.0.3', 80) && sh(ns.node, 'ss -lunH "sport = :53" | grep -q .').status === 0); i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
  }, 30_000);

  afterAll(() => {
    for (const p of pids) {
      try {
        process.kill(p);
      } catch { /* already gone */ }
    }
    for (const n of Object.values(ns)) spawnSync('ip', ['netns', 'del', n]);
  });

  it('DNS through the gateway is answered by the node\'s dnsmasq', () => {
    const r = sh(ns.vm, `busybox nslookup n3 ${a.gateway}`);
    expect(r.stdout.split(/^Name:/m)[1] ?? '', r.stdout + r.stderr).toMatch(/Address(?: 1)?:\s*10\.77\.0\.3/);
  });

  it('NFS on the gateway and the outside are open; the VM\'s node and the other node are closed, each open from the node', () => {
    expect(open(ns.vm, a.gateway, 2049)).toBe(true);
    expect(open(ns.vm, '198.51.100.1', 80)).toBe(true);
    for (const [ip, port] of [['10.77.0.2', 22], ['10.77.0.2', 5432], [a.gateway, 22], ['10.77.0.3', 22], ['10.77.0.3', 5432], [PUBLIC, 22]] as const) {
      expect(open(ns.node, ip, port), `control ${ip}:${port} from the node`).toBe(true);
      expect(open(ns.vm, ip, port), `${ip}:${port} from the VM`).toBe(false);
    }
  });
});
