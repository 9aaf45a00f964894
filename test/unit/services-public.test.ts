import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { Manifest } from '../../main/domain/manifest.js';
import { VlxError } from '../../main/errors.js';
import { planServices, type NodeFacts, type ServicesPlan } from '../../main/node-services/plan.js';
import { netmaskPrefix, planPublic } from '../../main/node-services/publicSide.js';
import { renderKeepalivedConf, renderNatNft, renderNodeFiles, renderNotifyScript, renderStateJson, servicePaths } from '../../main/node-services/render.js';
import { deployScript, parseStatus, statusScript, stopScript } from '../../main/node-services/scripts.js';
import { parseCidr } from '../../main/domain/subnet.js';

/** The gateway's public side: validation, and what the VIP holder and the other nodes get. */

const PUBLIC = { ip: '203.0.113.2', netmask: '255.255.255.0', router: '203.0.113.1' };
const manifest = (gateway: Record<string, unknown> = { public: PUBLIC }) => Manifest.parse({
  version: 1, name: 'lab', clusterNetwork: '10.77.0.0/24',
  nodes: [1, 2, 3, 4].map((i) => ({ name: `n${i}`, address: `10.77.0.${i}`, cores: 4, memMb: 8192 })),
  gateway,
});
const facts: NodeFacts[] = [1, 2, 3, 4].map((i) => ({
  node: `n${i}`, iface: 'eth0', mac: `52:54:4d:00:00:0${i}`, outIface: 'eth0', tools: { dnsmasq: true, keepalived: true, nft: true, chronyd: false },
}));
const plan: ServicesPlan = planServices(manifest(), facts);
const n1 = plan.nodes[0];
const RESERVED = [{ cidr: parseCidr('10.77.0.0/24'), field: 'the cluster network' }, { cidr: parseCidr('10.200.0.0/16'), field: 'the VC pool (vcSubnetPool)' }];

const work = mkdtempSync('/tmp/vlx-public-unit-');
afterAll(() => rmSync(work, { recursive: true, force: true }));

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

describe('netmaskPrefix', () => {
  test.each([
    ['255.255.255.0', 24], ['255.255.255.252', 30], ['255.0.0.0', 8], ['128.0.0.0', 1], ['255.255.254.0', 23], [24, 24], ['/22', 22], ['16', 16],
  ])('%s → /%i', (mask, prefix) => expect(netmaskPrefix(mask, 'm')).toBe(prefix));

  test.each([
    ['255.0.255.0', /contiguous/], ['255.255.255.1', /contiguous/], ['0.0.0.0', /room|0\.0\.0\.0/], ['255.255.255.255', /room/], ['255.255.255.254', /room/],
    [0, /prefix length/], [31, /prefix length/], [24.5, /netmask/], ['/33', /prefix length/], ['255.255.255', /netmask/], [null, /netmask/], [undefined, /netmask/], ['', /netmask/],
  ])('%s is refused', (mask, rule) => {
    const msg = invalidMessage(() => netmaskPrefix(mask, 'gateway.public.netmask'));
    expect(msg).toContain('gateway.public.netmask');
    expect(msg).toMatch(rule);
  });
});

describe('planPublic: every rule names its field', () => {
  test('a valid public side', () => {
    expect(planPublic(PUBLIC, RESERVED)).toEqual({ ip: '203.0.113.2', prefix: 24, network: '203.0.113.0/24', router: '203.0.113.1' });
    expect(planPublic({ ip: '198.51.100.6', netmask: 30, router: '198.51.100.5' }, RESERVED)).toEqual({ ip: '198.51.100.6', prefix: 30, network: '198.51.100.4/30', router: '198.51.100.5' });
  });

  test.each([
    ['no address', { ...PUBLIC, ip: undefined }, 'gateway.public.ip', /IPv4/],
    ['a name for an address', { ...PUBLIC, ip: 'gw.example' }, 'gateway.public.ip', /IPv4/],
    ['an octet over 255', { ...PUBLIC, ip: '203.0.113.256' }, 'gateway.public.ip', /IPv4/],
    ['the network address', { ...PUBLIC, ip: '203.0.113.0' }, 'gateway.public.ip', /host address of 203\.0\.113\.0\/24/],
    ['the broadcast address', { ...PUBLIC, ip: '203.0.113.255' }, 'gateway.public.ip', /host address/],
    ['a bad netmask', { ...PUBLIC, netmask: '255.0.255.0' }, 'gateway.public.netmask', /contiguous/],
    ['no netmask', { ...PUBLIC, netmask: undefined }, 'gateway.public.netmask', /netmask/],
    ['no router', { ...PUBLIC, router: undefined }, 'gateway.public.router', /IPv4/],
    ['a router outside the public network', { ...PUBLIC, router: '198.51.100.1' }, 'gateway.public.router', /public network 203\.0\.113\.0\/24/],
    ['the broadcast address as router', { ...PUBLIC, router: '203.0.113.255' }, 'gateway.public.router', /host address/],
    ['the network address as router', { ...PUBLIC, router: '203.0.113.0' }, 'gateway.public.router', /host address/],
    ['the public address as router', { ...PUBLIC, router: '203.0.113.2' }, 'gateway.public.router', /public address itself/],
    ['inside the cluster network', { ip: '10.77.0.200', netmask: '255.255.255.0', router: '10.77.0.1' }, 'gateway.public', /apart from the cluster network 10\.77\.0\.0\/24/],
    ['around the cluster network', { ip: '10.0.0.2', netmask: '255.0.0.0', router: '10.0.0.1' }, 'gateway.public', /apart from the cluster network/],
    ['inside the VC pool', { ip: '10.200.9.2', netmask: 24, router: '10.200.9.1' }, 'gateway.public', /apart from the VC pool \(vcSubnetPool\) 10\.200\.0\.0\/16/],
  ])('%s', (_label, pub, field, rule) => {
    const msg = invalidMessage(() => planPublic(pub as Record<string, unknown>, RESERVED));
    expect(msg).toContain(field);
    expect(msg).toMatch(rule);
  });
});

describe('planServices with a public side', () => {
  test('the plan carries it; the public address goes on the VIP interface unless told', () => {
    expect(plan.public).toEqual({ ip: '203.0.113.2', prefix: 24, network: '203.0.113.0/24', router: '203.0.113.1' });
    expect(plan.nodes.map((n) => n.publicIface)).toEqual(['eth0', 'eth0', 'eth0', 'eth0']);
    const wan = planServices(manifest({ public: { ...PUBLIC, interface: 'wan0' } }), facts);
    expect(wan.nodes.map((n) => n.publicIface)).toEqual(['wan0', 'wan0', 'wan0', 'wan0']);
  });

  test('without one, nothing changes', () => {
    const p = planServices(manifest({}), facts);
    expect(p.public).toBeUndefined();
    expect(p.nodes.every((n) => n.publicIface === undefined)).toBe(true);
    expect(renderNotifyScript(p.nodes[0], p)).not.toMatch(/ip (addr|route)/);
    expect(renderNatNft(p, p.nodes[0])).toContain('masquerade');
  });

  test.each([
    ['a bad interface', { public: { ...PUBLIC, interface: 'eth 0' } }, 'gateway.public.interface'],
    ['an interface name too long', { public: { ...PUBLIC, interface: 'a-very-long-iface-name' } }, 'gateway.public.interface'],
    ['a public network over the VC pool', { public: { ip: '10.200.0.2', netmask: '255.255.255.0', router: '10.200.0.1' } }, 'gateway.public'],
    ['a bad router', { public: { ...PUBLIC, router: 'x' } }, 'gateway.public.router'],
  ])('refused: %s', (_l, gw, field) => expect(invalidMessage(() => planServices(manifest(gw), facts))).toContain(field));

  test('the manifest schema takes the install config\'s names, a prefix length too, and refuses a missing field', () => {
    expect(manifest({ public: { ...PUBLIC, netmask: 24 } }).gateway?.public?.netmask).toBe(24);
    expect(() => manifest({ public: { ip: '203.0.113.2', netmask: '255.255.255.0' } })).toThrow(/router/);
  });
});

describe('what the VIP holder and the others get', () => {
  test('keepalived: the public address moves with the VIP, outside the adverts', () => {
    const conf = renderKeepalivedConf(plan, n1);
    expect(conf).toContain('  virtual_ipaddress_excluded {\n    203.0.113.2/24 dev eth0\n  }\n');
    expect(renderKeepalivedConf(planServices(manifest({}), facts), n1)).not.toContain('excluded');
  });

  test('keepalived itself accepts it', () => {
    const file = join(work, 'keepalived.conf');
    writeFileSync(file, renderKeepalivedConf(plan, n1).replace(servicePaths.notifyScript, '/bin/true').replace(servicePaths.storageScript, '/bin/true'));
    const r = spawnSync('keepalived', ['-t', '-f', file], { encoding: 'utf8' });
    expect(r.stderr).not.toMatch(/error|unknown|invalid/i);
    expect(r.status).toBe(0);
  });

  test('NAT: what is routed to the public network from inside gets the public address, from any VC subnet (in the pool or not)', () => {
    const nat = renderNatNft(plan, n1);
    expect(nat).toContain('    ip saddr != 203.0.113.0/24 rt ip nexthop 203.0.113.0/24 oifname "eth0" snat ip to 203.0.113.2\n');
    // No list of sources to fall behind the VCs: none is named.
    expect(nat).not.toContain('10.200.0.0/16');
    const file = join(work, 'nat.nft');
    writeFileSync(file, nat);
    expect(() => execFileSync('nft', ['-c', '-f', file], { encoding: 'utf8', stdio: 'pipe' })).not.toThrow();
  });

  test('public filter: on the holder only the NAT\'s return traffic reaches the public address; nothing new is forwarded from the public network', () => {
    const nft = renderNatNft(plan, n1);
    expect(nft).toContain([
      '  chain public_input {',
      '    type filter hook input priority filter; policy accept;',
      '    ip daddr 203.0.113.2 ct state new,invalid,untracked drop',
      '  }',
      '  chain public_forward {',
      '    type filter hook forward priority filter; policy accept;',
      '    ip saddr 203.0.113.0/24 ct state new,invalid,untracked drop',
      '  }',
      '}',
    ].join('\n'));
    // In the one table the notify script loads and deletes: it comes and goes with the VIP.
    expect(nft.match(/^table /gm)).toHaveLength(2);
    expect(renderNatNft(planServices(manifest({}), facts), n1)).not.toContain('public_');
    const wan = planServices(manifest({ public: { ...PUBLIC, interface: 'wan0' } }), facts);
    const own = renderNatNft(wan, wan.nodes[0]);
    // A public interface of its own is closed as a whole, in both chains.
    expect(own.match(/iifname "wan0" ct state new,invalid,untracked drop/g)).toHaveLength(2);
    for (const [name, text] of [['eth0', nft], ['wan0', own]]) {
      const file = join(work, `filter-${name}.nft`);
      writeFileSync(file, text);
      expect(() => execFileSync('nft', ['-c', '-f', file], { encoding: 'utf8', stdio: 'pipe' }), name).not.toThrow();
    }
  });

  test('notify: the holder takes the address and routes the outside via the router; the others drop it and route to the VIP', () => {
    const s = renderNotifyScript(n1, plan);
    const master = s.slice(s.indexOf('  MASTER)'), s.indexOf('  *)'));
    const other = s.slice(s.indexOf('  *)'));
    expect(master).toContain('ip addr replace 203.0.113.2/24 dev eth0\n');
    expect(master).toContain('ip route replace default via 203.0.113.1 dev eth0\n');
    // NAT last: `exec` ends the run.
    expect(master.indexOf('ip route replace')).toBeLessThan(master.indexOf('exec nft'));
    expect(other).toContain('ip addr del 203.0.113.2/24 dev eth0 2>/dev/null\n');
    expect(other).toContain('ip route replace default via 10.77.0.253 dev eth0\n');
    expect(other).toContain('nft delete table ip vlx_gateway');
    expect(spawnSync('sh', ['-n'], { input: s }).status).toBe(0);
    // What it does is decided by whether the node holds the VIP when it has the lock, not by the
    // order in which two quick runs recorded their states.
    const lock = s.indexOf('flock 9');
    expect(s.indexOf("if ip -o -4 addr show dev eth0 | grep -qF ' 10.77.0.253/'; then echo MASTER")).toBeGreaterThan(lock);
    expect(s.indexOf('case "$(cat')).toBeGreaterThan(s.indexOf('echo BACKUP'));
    const files = renderNodeFiles(plan, n1);
    expect(files.find((f) => f.path === servicePaths.notifyScript)?.content).toBe(s);
  });

  test('state file: stop and status find the public address without the manifest', () => {
    expect(JSON.parse(renderStateJson(plan, n1))).toEqual({ cluster: 'lab', vip: '10.77.0.253', prefix: 24, iface: 'eth0', ntp: false, public: '203.0.113.2/24', publicIface: 'eth0' });
  });
});

describe('deploy, status and stop scripts', () => {
  const input = (pub?: { address: string; iface: string }) => ({
    files: renderNodeFiles(plan, n1), tftpRoot: '/srv/virtualinux/tftp', vip: '10.77.0.253', prefix: 24, iface: 'eth0', ntp: false, keepClock: true,
    ...(pub ? { public: pub } : {}),
  });

  test('deploy: keeps the first default route, clears a public address a killed keepalived left, re-applies a changed notify script', () => {
    const s = deployScript(input({ address: '203.0.113.2/24', iface: 'eth0' }));
    expect(s).toContain(`if [ ! -e ${servicePaths.defaultRouteOrig} ]; then ip -o -4 route show default | head -n 1 > ${servicePaths.defaultRouteOrig}; fi`);
    expect(s).toContain('  ip addr del 203.0.113.2/24 dev eth0 2>/dev/null');
    expect(s).toMatch(/ischanged \S+gateway-nat\.nft \|\| ischanged \S+gateway-notify\.sh; \} && \[ -n "\$st" \]; then \S+gateway-notify\.sh INSTANCE vlx_gateway "\$st"/);
    expect(spawnSync('sh', ['-n'], { input: s }).status).toBe(0);
    const plain = deployScript(input());
    expect(plain).not.toContain(servicePaths.defaultRouteOrig);
    expect(plain).not.toContain('203.0.113.2');
  });

  test('status: a public record, parsed', () => {
    expect(spawnSync('sh', ['-n'], { input: statusScript() }).status).toBe(0);
    expect(statusScript()).toContain('rec public held');
    expect(parseStatus('public\theld\t203.0.113.2\t\n').public).toEqual({ address: '203.0.113.2', holds: true });
    expect(parseStatus('public\tfree\t203.0.113.2\t\n').public).toEqual({ address: '203.0.113.2', holds: false });
    expect(parseStatus('public\theld\t\t\n').public).toBeUndefined();
    expect(parseStatus('nat\ton\t\t\n').public).toBeUndefined();
  });

  test('stop: the public address goes and the first default route comes back', () => {
    const s = stopScript();
    expect(s).toContain('if [ -n "$pub" ] && [ -n "$pubif" ]; then ip addr del "$pub" dev "$pubif" 2>/dev/null; fi');
    expect(s).toContain(`if [ -e ${servicePaths.defaultRouteOrig} ]; then ip route del default`);
    expect(spawnSync('sh', ['-n'], { input: s }).status).toBe(0);
  });
});

describe('notify script, run for real with stand-in ip and nft', () => {
  /** The script with its state file in a temp dir and ip/nft replaced by loggers; ip reports the addresses in ADDRS. */
  function runNotify(state: string, holdsVip: boolean): { log: string[]; recorded: string } {
    const dir = mkdtempSync(join(work, 'notify-'));
    const bin = join(dir, 'bin');
    execFileSync('mkdir', ['-p', bin]);
    writeFileSync(join(bin, 'ip'), `#!/bin/sh\nif [ "$1" = -o ]; then ${holdsVip ? "echo '2: eth0    inet 10.77.0.253/24 scope global secondary eth0'" : 'true'}; exit 0; fi\necho "ip $*" >> ${dir}/log\n`, { mode: 0o755 });
    writeFileSync(join(bin, 'nft'), `#!/bin/sh\necho "nft $*" >> ${dir}/log\n`, { mode: 0o755 });
    const script = renderNotifyScript(n1, plan)
      .replaceAll(servicePaths.gatewayState, join(dir, 'gateway.state'))
      .replace('echo 1 > /proc/sys/net/ipv4/ip_forward', 'true');
    const r = spawnSync('sh', ['-s', 'INSTANCE', 'vlx_gateway', state, '100'], { input: script, env: { PATH: `${bin}:${process.env.PATH}` }, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const log = spawnSync('cat', [join(dir, 'log')], { encoding: 'utf8' }).stdout.trim().split('\n').filter(Boolean);
    return { log, recorded: spawnSync('cat', [join(dir, 'gateway.state')], { encoding: 'utf8' }).stdout.trim() };
  }

  test('a MASTER run that comes last after the VIP is gone (two runs recorded out of order) drops the public address and NAT', () => {
    const r = runNotify('MASTER', false);
    expect(r.recorded).toBe('BACKUP');
    expect(r.log).toEqual(['nft delete table ip vlx_gateway', 'ip addr del 203.0.113.2/24 dev eth0', 'ip route replace default via 10.77.0.253 dev eth0']);
  });

  test('a BACKUP run while the node holds the VIP keeps the holder\'s public address, route and NAT', () => {
    const r = runNotify('BACKUP', true);
    expect(r.recorded).toBe('MASTER');
    expect(r.log).toEqual(['ip addr replace 203.0.113.2/24 dev eth0', 'ip route replace default via 203.0.113.1 dev eth0', `nft -f ${servicePaths.natNft}`]);
  });

  test('FAULT without the VIP stays FAULT (status shows what keepalived said)', () => {
    expect(runNotify('FAULT', false).recorded).toBe('FAULT');
  });
});
