import { describe, expect, it } from 'vitest';
import { formatFieldError, normaliseMac, validateInstallConfig, type InstallFacts } from '../../main/domain/installConfig.js';
import { formatLocated, readInstallYaml } from '../../main/domain/installYaml.js';

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx0ZXN0a2V5Zm9ydGhlaW5zdGFsbHRhYmxlMDAwMDAw admin@ws';
const base = () => ({
  container: 'lab',
  network: { boot: { firstIp: '10.77.0.101', netmask: '255.255.255.0' } },
  gateway: { primary: '10.77.0.1', backup: '10.77.0.2' },
  nodes: [{ mac: '52:54:4d:00:01:01' }, { mac: '52:54:4d:00:01:02' }, { mac: '52:54:4d:00:01:03' }],
  sshKeys: [KEY],
});
type Cfg = Record<string, any>;
const edit = (f: (c: Cfg) => void): Cfg => { const c: Cfg = structuredClone(base()); f(c); return c; };

describe('install config: defaults', () => {
  it('fills every default and derives the addresses', () => {
    const v = validateInstallConfig(base());
    expect(v.ok).toBe(true);
    if (!v.ok) return;
    const p = v.plan;
    expect(p.config).toMatchObject({ baseImage: 'debian-12-node', sharedRoot: '/srv/virtualinux', hostnamePrefix: 'node', sizes: { rootMb: 5120, swapMb: 2048, sharedMb: 10240 } });
    expect([p.bootNetwork, p.storageNetwork, p.storageIp, p.spare, p.primary, p.backup]).toEqual(['10.77.0.0/24', '10.77.0.0/24', '10.77.0.252', '10.77.0.253', '10.77.0.1', '10.77.0.2']);
    expect(p.nodes.map((n) => [n.ordinal, n.hostname, n.mac, n.bootIp, n.exportName])).toEqual([
      [1, 'node1', '52:54:4d:00:01:01', '10.77.0.101', 'lab-node1'],
      [2, 'node2', '52:54:4d:00:01:02', '10.77.0.102', 'lab-node2'],
      [3, 'node3', '52:54:4d:00:01:03', '10.77.0.103', 'lab-node3'],
    ]);
  });

  it('a second network carries storage, with its own node range', () => {
    const v = validateInstallConfig(edit((c) => { c.network.storage = { firstIp: '192.168.5.11', netmask: '255.255.0.0' }; }));
    expect(v.ok && [v.plan.storageNetwork, v.plan.storageIp, v.plan.nodes[2]!.storageIp]).toEqual(['192.168.0.0/16', '192.168.0.252', '192.168.5.13']);
  });

  it('MACs are normalised, people write them many ways', () => {
    expect(['52-54-4D-00-01-0A', '5254.4d00.010a', '52544d00010a', ' 52:54:4d:00:01:0a '].map(normaliseMac)).toEqual(Array(4).fill('52:54:4d:00:01:0a'));
    expect(['52:54:4d:00:01', '52:54:4d:00:01:0g', '5254-4d00-010a', ''].map(normaliseMac)).toEqual(Array(4).fill(undefined));
  });
});

const FACTS: InstallFacts = {
  freeMb: 40000, containersInUse: ['other'], takenAddresses: [{ address: '10.77.0.1', label: 'node n1' }, { address: '10.77.0.254', label: 'the lab host' }],
  images: [{ name: 'debian-12-node', bootable: true }, { name: 'debian-12', bootable: false }],
};

/** Each rule: one failing example and the exact message. */
const TABLE: [string, Cfg, string[], InstallFacts?][] = [
  ['bad base image name', edit((c) => { c.baseImage = 'Debian 12'; }), ['baseImage: must be 1-64 chars: lowercase letters, digits, ".", "_" or "-", not starting with a punctuation mark']],
  ['relative shared root', edit((c) => { c.sharedRoot = 'srv/x'; }), ['sharedRoot: must be an absolute path of letters, digits, ".", "_" and "-" segments']],
  ['bad container name', edit((c) => { c.container = 'Lab_1'; }), ['container: must be 1-32 chars: a lowercase letter, then lowercase letters, digits or "-"']],
  ['node count not a number', edit((c) => { c.nodeCount = 'three'; }), ['nodeCount: must be a whole number from 1 to 250']],
  ['node count and MACs disagree', edit((c) => { c.nodeCount = 4; }), ['nodes: must list nodeCount (4) MAC addresses; 3 given']],
  ['no nodes', edit((c) => { c.nodes = []; }), ['nodes: must list at least one node (its MAC address)']],
  ['root size too small', edit((c) => { c.sizes = { rootMb: 100 }; }), ['sizes.rootMb: must be a whole number of MB from 512 to 1048576']],
  ['swap size fractional', edit((c) => { c.sizes = { swapMb: 1.5 }; }), ['sizes.swapMb: must be a whole number of MB from 0 to 262144']],
  ['shared size negative', edit((c) => { c.sizes = { sharedMb: -1 }; }), ['sizes.sharedMb: must be a whole number of MB from 0 to 16777216']],
  ['hostname prefix', edit((c) => { c.hostnamePrefix = '1node'; }), ['hostnamePrefix: must be 1-24 chars: a lowercase letter, then lowercase letters, digits or "-"']],
  ['no boot network', edit((c) => { delete c.network; }), ['network: must give network.boot.firstIp']],
  ['first IP not an address', edit((c) => { c.network.boot.firstIp = '10.77.0.300'; }), ['network.boot.firstIp: must be an IPv4 address like 10.77.0.101']],
  ['netmask not contiguous', edit((c) => { c.network.boot.netmask = '255.0.255.0'; }), ['network.boot.netmask: must be a netmask like 255.255.255.0']],
  ['first IP is the network address', edit((c) => { c.network.boot.firstIp = '10.77.0.0'; }), ['network.boot.firstIp: must be a host address of 10.77.0.0/24']],
  ['node range runs past the network', edit((c) => { c.network.boot.firstIp = '10.77.0.253'; }), ['network.boot.firstIp: 3 nodes from 10.77.0.253 run past the end of 10.77.0.0/24']],
  ['storage network overlaps boot', edit((c) => { c.network.storage = { firstIp: '10.77.0.150' }; }), ['network.storage: must be a network apart from the boot network 10.77.0.0/24 (omit it to use one network)']],
  ['storage IP outside its network', edit((c) => { c.network.storageIp = '10.78.0.252'; }), ['network.storageIp: must be a host address of the storage network 10.77.0.0/24']],
  ['storage IP in the node range', edit((c) => { c.network.storageIp = '10.77.0.102'; }), ['network.storageIp: must not be in the node range 10.77.0.101-10.77.0.103']],
  ['spare outside the boot network', edit((c) => { c.gateway.spare = '192.168.1.253'; }), ['gateway.spare: must be a host address of the boot network 10.77.0.0/24']],
  ['spare in the node range', edit((c) => { c.gateway.spare = '10.77.0.103'; }), ['gateway.spare: must not be in the node range 10.77.0.101-10.77.0.103']],
  ['spare is the storage IP', edit((c) => { c.gateway.spare = '10.77.0.252'; }), ['gateway.spare: must not be the storage address (network.storageIp)']],
  ['primary outside the network', edit((c) => { c.gateway.primary = '10.78.0.1'; }), ['gateway.primary: must be a host address of the boot network 10.77.0.0/24']],
  ['primary is the spare', edit((c) => { c.gateway.primary = '10.77.0.253'; }), ['gateway.primary: must not be the spare address (gateway.spare): that one moves between primary and backup']],
  ['backup is the storage IP', edit((c) => { c.gateway.backup = '10.77.0.252'; }), ['gateway.backup: must not be the storage address (network.storageIp)']],
  ['backup equals primary', edit((c) => { c.gateway.backup = '10.77.0.1'; }), ['gateway.backup: must differ from gateway.primary']],
  ['public router outside public network', edit((c) => { c.gateway.public = { ip: '192.0.2.10', netmask: '255.255.255.0', router: '198.51.100.1' }; }), ['gateway.public.router: must be in the public network 192.0.2.0/24']],
  ['public network is the boot network', edit((c) => { c.gateway.public = { ip: '10.77.0.200', netmask: '255.255.0.0', router: '10.77.1.1' }; }), ['gateway.public: must be a network apart from the boot network 10.77.0.0/24']],
  ['DNS not an address', edit((c) => { c.gateway.dns = ['dns.example']; }), ['gateway.dns.0: must be an IPv4 address like 10.77.0.101']],
  ['bad domain', edit((c) => { c.gateway.domain = 'Example..com'; }), ['gateway.domain: must be a DNS domain of lowercase letters, digits, "-" and "."']],
  ['bad MAC', edit((c) => { c.nodes[1].mac = '52:54:4d:00:01'; }), ['nodes.1.mac: must be a MAC address like 52:54:4d:00:01:01']],
  ['duplicate MAC (other spelling)', edit((c) => { c.nodes[2].mac = '52-54-4D-00-01-01'; }), ['nodes.2.mac: duplicates the MAC of nodes.0 (52:54:4d:00:01:01)']],
  ['duplicate host name', edit((c) => { c.nodes[0].hostname = 'node2'; }), ['nodes.1.hostname: duplicates the host name of nodes.0 (node2)']],
  ['no SSH key', edit((c) => { c.sshKeys = []; }), ['sshKeys: must list at least one SSH public key: nodes have no root password']],
  ['bad SSH key', edit((c) => { c.sshKeys = ['ssh-ed25519']; }), ['sshKeys.0: must be one OpenSSH public key line (ssh-ed25519 AAAA… comment)']],
  ['a root password', edit((c) => { c.rootPassword = 'secret'; }), ['rootPassword: is not supported: nodes are reached with SSH keys only']],
  ['unknown setting', edit((c) => { c.network.bootNetmask = 'x'; }), ['network.bootNetmask: is not a setting of the install']],
  ['node range covers a taken address', edit((c) => { c.network.boot.firstIp = '10.77.0.1'; c.gateway.primary = '10.77.0.10'; c.gateway.backup = '10.77.0.11'; }),
    ['network.boot.firstIp: the node range 10.77.0.1-10.77.0.3 includes 10.77.0.1, already used by node n1'], FACTS],
  ['spare taken', edit((c) => { c.gateway.spare = '10.77.0.254'; }), ['gateway.spare: 10.77.0.254 is already used by the lab host'], FACTS],
  ['container in use', edit((c) => { c.container = 'other'; }), ['container: "other" is already used by another installation on /srv/virtualinux: choose another name'], FACTS],
  ['sizes above free space', edit((c) => { c.sizes = { rootMb: 10240 }; }), ['sizes: 3 × (10240 + 2048) MB + 10240 MB = 47104 MB is above the 40000 MB free on /srv/virtualinux'], FACTS],
];

describe('install config: every rule, its failing example and its exact message', () => {
  it('the base config passes with the facts', () => expect(validateInstallConfig(base(), FACTS).ok).toBe(true));
  it.each(TABLE)('%s', (_name, cfg, messages, facts) => {
    const v = validateInstallConfig(cfg, facts);
    expect(v.ok).toBe(false);
    if (!v.ok) expect(v.errors.map(formatFieldError)).toEqual(messages);
  });

  it('never crashes on hostile input', () => {
    for (const raw of [null, undefined, 42, 'x', [], { nodes: 'x' }, { nodes: [null] }, { sizes: null }, { network: { boot: [] } }, { __proto__: { x: 1 } }]) {
      const v = validateInstallConfig(raw);
      expect(typeof v.ok).toBe('boolean');
    }
  });
});

describe('install config: YAML', () => {
  const yaml = [
    'container: lab',
    'network:',
    '  boot:',
    '    firstIp: 10.77.0.101',
    'gateway: { primary: 10.77.0.1, backup: 10.77.0.2 }',
    'nodes:',
    '  - mac: 52:54:4d:00:01:01',
    '  - mac: 52:54:4d:00:01:01',
    'sshKeys:',
    `  - ${KEY}`,
  ].join('\n');

  it('reads a valid file', () => {
    const v = readInstallYaml(yaml.replace(/01:01\n(?=sshKeys)/, '01:02\n'));
    expect(v.ok && v.plan.nodes.map((n) => n.bootIp)).toEqual(['10.77.0.101', '10.77.0.102']);
  });

  it('a field error carries the line and column of the value', () => {
    const v = readInstallYaml(yaml);
    expect(!v.ok && v.errors.map((e) => formatLocated('cluster.yaml', e))).toEqual(['cluster.yaml:8:10: nodes.1.mac: duplicates the MAC of nodes.0 (52:54:4d:00:01:01)']);
  });

  it('a syntax error carries its line and column', () => {
    const v = readInstallYaml('container: lab\nnetwork:\n  boot: [10.77.0.1\n');
    expect(v.ok).toBe(false);
    if (!v.ok) expect(v.errors[0]).toMatchObject({ path: '(yaml)', line: 4 });
  });

  it('a duplicate key is an error, not a silent override', () => {
    const v = readInstallYaml('container: a\ncontainer: b\n');
    expect(!v.ok && v.errors[0]).toMatchObject({ path: '(yaml)', line: 2, col: 1 });
  });

  it('a document that is not a mapping is refused', () => {
    const v = readInstallYaml('- a\n- b\n');
    expect(!v.ok && v.errors.map((e) => formatLocated('c.yaml', e))).toEqual(['c.yaml:1:1: (config): must be a mapping of settings (key: value)']);
  });
});
