import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { Manifest } from '../../main/domain/manifest.js';
import { planServices, type NodeFacts, type ServicesPlan } from '../../main/node-services/plan.js';
import {
  renderChronyConf, renderDnsmasqConf, renderKeepalivedConf, renderNatNft, renderNodeFiles, renderNotifyScript, serversFor, servicePaths,
} from '../../main/node-services/render.js';

const manifest = (extra: Record<string, unknown> = {}) => Manifest.parse({
  version: 1, name: 'lab', clusterNetwork: '10.77.0.0/24',
  nodes: [1, 2, 3, 4].map((i) => ({ name: `n${i}`, address: `10.77.0.${i}`, cores: 4, memMb: 8192 })),
  ...extra,
});
const facts = (chronyd = false): NodeFacts[] => [1, 2, 3, 4].map((i) => ({
  node: `n${i}`, iface: 'eth0', mac: `52:54:4d:00:00:0${i}`, outIface: 'eth0', tools: { dnsmasq: true, keepalived: true, nft: true, chronyd },
}));
const lab: ServicesPlan = planServices(manifest(), facts());
const n = (p: ServicesPlan, name: string) => p.nodes.find((x) => x.name === name)!;

const work = mkdtempSync('/tmp/vlx-services-unit-');
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('serversFor: own address first, then the ones after it, wrapping', () => {
  test.each([
    ['n1', 3, ['10.77.0.1', '10.77.0.2', '10.77.0.3']],
    ['n3', 3, ['10.77.0.3', '10.77.0.4', '10.77.0.1']],
    ['n4', 3, ['10.77.0.4', '10.77.0.1', '10.77.0.2']],
    ['n2', 10, ['10.77.0.2', '10.77.0.3', '10.77.0.4', '10.77.0.1']],
    ['n2', 1, ['10.77.0.2']],
  ])('%s max %i', (node, max, want) => expect(serversFor(lab, n(lab, node), max)).toEqual(want));

  test('a down node is still listed (clients will try the next one)', () => {
    const p = planServices(manifest(), facts().slice(0, 2));
    expect(serversFor(p, n(p, 'n2'))).toEqual(['10.77.0.2', '10.77.0.3', '10.77.0.4']);
  });
});

describe('dnsmasq.conf', () => {
  test('the lab, node n2', () => {
    expect(renderDnsmasqConf(lab, n(lab, 'n2'))).toBe([
      '# VirtuaLinux cluster services on n2: written by vlx services deploy; edits are overwritten',
      'pid-file=/run/virtualinux/dnsmasq.pid',
      'dhcp-leasefile=/run/virtualinux/dnsmasq.leases',
      'log-facility=/run/virtualinux/dnsmasq.log',
      'listen-address=10.77.0.2',
      'bind-interfaces',
      'domain-needed',
      'bogus-priv',
      'cache-size=1000',
      'hostsdir=/etc/virtualinux/services/hosts.d',
      'host-record=n1,10.77.0.1',
      'host-record=n2,10.77.0.2',
      'host-record=n3,10.77.0.3',
      'host-record=n4,10.77.0.4',
      'host-record=gateway,10.77.0.253',
      'dhcp-range=10.77.0.0,static,255.255.255.0,12h',
      'dhcp-option=option:router,10.77.0.253',
      'dhcp-option=option:dns-server,10.77.0.2,10.77.0.3,10.77.0.4',
      'dhcp-host=52:54:4d:00:00:01,10.77.0.1,n1',
      'dhcp-host=52:54:4d:00:00:02,10.77.0.2,n2',
      'dhcp-host=52:54:4d:00:00:03,10.77.0.3,n3',
      'dhcp-host=52:54:4d:00:00:04,10.77.0.4,n4',
      'enable-tftp',
      'tftp-root=/srv/virtualinux/tftp',
      '',
    ].join('\n'));
  });

  test('never authoritative: with several servers, an authoritative one NAKs clients of the others', () => {
    expect(renderDnsmasqConf(lab, n(lab, 'n1'))).not.toMatch(/authoritative/);
  });

  test('options: domain, upstream, boot file, extra hosts, NTP servers', () => {
    const p = planServices(manifest({
      clusterNetwork: '192.168.8.0/22',
      nodes: [1, 2].map((i) => ({ name: `n${i}`, address: `192.168.8.${i}`, cores: 4, memMb: 8192 })),
      services: {
        dhcp: { hosts: [{ mac: '02:00:00:00:00:09', ip: '192.168.9.9', name: 'spare' }], leaseTime: '1d', bootFile: 'pxelinux.0' },
        dns: { domain: 'c.lan', upstream: ['10.0.0.53', '10.0.0.54'] },
      },
    }), facts(true).slice(0, 2).map((f, i) => ({ ...f, node: `n${i + 1}` })));
    const conf = renderDnsmasqConf(p, n(p, 'n1'));
    for (const line of [
      'no-resolv', 'server=10.0.0.53', 'server=10.0.0.54', 'domain=c.lan', 'local=/c.lan/',
      'host-record=n1,n1.c.lan,192.168.8.1', 'host-record=spare,spare.c.lan,192.168.9.9', 'host-record=gateway,gateway.c.lan,192.168.8.253',
      'dhcp-range=192.168.8.0,static,255.255.252.0,1d', 'dhcp-option=option:dns-server,192.168.8.1,192.168.8.2',
      'dhcp-option=option:ntp-server,192.168.8.1,192.168.8.2', 'dhcp-host=02:00:00:00:00:09,192.168.9.9,spare', 'dhcp-boot=pxelinux.0',
    ]) expect(conf.split('\n'), line).toContain(line);
  });

  test('dnsmasq itself accepts it', () => {
    const file = join(work, 'dnsmasq.conf');
    writeFileSync(file, renderDnsmasqConf(lab, n(lab, 'n1')));
    const r = spawnSync('dnsmasq', ['--test', '-C', file], { encoding: 'utf8' });
    expect(r.stderr.trim()).toMatch(/syntax check OK/);
    expect(r.status).toBe(0);
  });
});

describe('keepalived.conf', () => {
  test('the lab, node n3', () => {
    expect(renderKeepalivedConf(lab, n(lab, 'n3'))).toBe([
      '# VirtuaLinux cluster services on n3: written by vlx services deploy; edits are overwritten',
      'global_defs {',
      '  router_id vlx_n3',
      '  vrrp_version 3',
      '  script_user root',
      '  enable_script_security',
      '  max_auto_priority',
      '  vrrp_garp_interval 0.3',
      '}',
      '',
      'vrrp_instance vlx_gateway {',
      '  state BACKUP',
      '  interface eth0',
      '  virtual_router_id 51',
      '  priority 248',
      '  advert_int 0.1',
      '  garp_master_delay 1',
      '  garp_master_repeat 5',
      '  unicast_src_ip 10.77.0.3',
      '  unicast_peer {',
      '    10.77.0.1',
      '    10.77.0.2',
      '    10.77.0.4',
      '  }',
      '  virtual_ipaddress {',
      '    10.77.0.253/24 dev eth0',
      '  }',
      '  notify /etc/virtualinux/services/gateway-notify.sh',
      '}',
      '',
      // The storage address prefers the other end of the ranking: n3 of n1..n4 is second.
      'vrrp_script vlx_storage_ready {',
      '  script "/usr/bin/test -d /srv/virtualinux/cluster"',
      '  interval 2',
      '  fall 1',
      '  rise 1',
      '}',
      '',
      'vrrp_instance vlx_storage {',
      '  state BACKUP',
      '  nopreempt',
      '  interface eth0',
      '  virtual_router_id 52',
      '  priority 249',
      '  advert_int 0.1',
      '  unicast_src_ip 10.77.0.3',
      '  unicast_peer {',
      '    10.77.0.1',
      '    10.77.0.2',
      '    10.77.0.4',
      '  }',
      '  virtual_ipaddress {',
      '    10.77.0.252/24 dev eth0',
      '  }',
      '  track_script {',
      '    vlx_storage_ready',
      '  }',
      '  notify /etc/virtualinux/services/storage-serve.sh',
      '}',
      '',
    ].join('\n'));
  });

  test('keepalived itself accepts it', () => {
    const p = planServices(manifest({ gateway: { order: ['n4'], routerId: 9 } }), facts());
    const file = join(work, 'keepalived.conf');
    writeFileSync(file, renderKeepalivedConf(p, n(p, 'n4')).replace(servicePaths.notifyScript, '/bin/true').replace(servicePaths.storageScript, '/bin/true'));
    const r = spawnSync('keepalived', ['-t', '-f', file], { encoding: 'utf8' });
    expect(r.stderr).not.toMatch(/error|unknown|invalid/i);
    expect(r.status).toBe(0);
    expect(renderKeepalivedConf(p, n(p, 'n4'))).toMatch(/priority 250\n/);
  });
});

describe('gateway NAT and notify script', () => {
  test('nft file: atomic replace of one table; masquerade what leaves the cluster and VC networks', () => {
    expect(renderNatNft(lab, n(lab, 'n1'))).toBe([
      '# VirtuaLinux cluster services on n1: written by vlx services deploy; edits are overwritten',
      'table ip vlx_gateway {}',
      'delete table ip vlx_gateway',
      'table ip vlx_gateway {',
      '  chain postrouting {',
      '    type nat hook postrouting priority srcnat; policy accept;',
      '    ip saddr { 10.77.0.0/24, 10.200.0.0/16 } ip daddr != { 10.77.0.0/24, 10.200.0.0/16 } oifname "eth0" masquerade',
      '  }',
      '}',
      '',
    ].join('\n'));
  });

  test('nft accepts it (check mode: nothing is loaded)', () => {
    const p = planServices(manifest({ gateway: { outInterface: 'wan0' } }), facts());
    const file = join(work, 'nat.nft');
    writeFileSync(file, renderNatNft(p, n(p, 'n2')));
    expect(() => execFileSync('nft', ['-c', '-f', file], { encoding: 'utf8', stdio: 'pipe' })).not.toThrow();
  });

  test('notify script: NAT on MASTER, off otherwise; state recorded', () => {
    const s = renderNotifyScript(n(lab, 'n1'));
    expect(s.startsWith('#!/bin/sh\n')).toBe(true);
    expect(s).toContain(`echo "$3" > ${servicePaths.gatewayState}`);
    expect(s).toContain(`exec nft -f ${servicePaths.natNft}`);
    // Runs are serialised and apply the last recorded state, so a quick MASTER → BACKUP cannot leave the NAT behind.
    expect(s).toContain('flock 9');
    expect(s).toContain(`case "$(cat ${servicePaths.gatewayState})" in`);
    expect(s).toContain('nft delete table ip vlx_gateway');
    expect(spawnSync('sh', ['-n'], { input: s }).status).toBe(0);
  });
});

describe('chrony.conf', () => {
  test('polls every other node, serves the cluster and the VCs, orphan mode without upstream', () => {
    const p = planServices(manifest({ services: { ntp: { upstream: ['ntp.example.org'] } } }), facts(true));
    expect(renderChronyConf(p, n(p, 'n2'))).toBe([
      '# VirtuaLinux cluster services on n2: written by vlx services deploy; edits are overwritten',
      'server ntp.example.org iburst',
      'server 10.77.0.1 iburst minpoll 0 maxpoll 4',
      'server 10.77.0.3 iburst minpoll 0 maxpoll 4',
      'server 10.77.0.4 iburst minpoll 0 maxpoll 4',
      'local stratum 10 orphan',
      'allow 10.77.0.0/24',
      'allow 10.200.0.0/16',
      'bindaddress 10.77.0.2',
      'driftfile /var/lib/virtualinux/chrony/drift',
      'pidfile /run/virtualinux/chrony/chronyd.pid',
      'bindcmdaddress /run/virtualinux/chrony/chronyd.sock',
      'cmdport 0',
      'makestep 1 3',
      '',
    ].join('\n'));
  });
});

describe('renderNodeFiles', () => {
  test('without chronyd: no chrony.conf; the notify script is executable, the rest is not', () => {
    const files = renderNodeFiles(lab, n(lab, 'n1'));
    expect(files.map((f) => [f.path.split('/').pop(), f.mode.toString(8)])).toEqual([
      ['dnsmasq.conf', '644'], ['gateway-nat.nft', '644'], ['gateway-notify.sh', '755'], ['storage-serve.sh', '755'], ['keepalived.conf', '644'], ['services.json', '644'],
    ]);
    expect(JSON.parse(files.at(-1)!.content)).toEqual({ cluster: 'lab', vip: '10.77.0.253', prefix: 24, iface: 'eth0', ntp: false });
  });

  test('with chronyd: chrony.conf too', () => {
    const p = planServices(manifest(), facts(true));
    expect(renderNodeFiles(p, n(p, 'n1')).map((f) => f.path.split('/').pop())).toContain('chrony.conf');
  });

  test('same plan, same bytes (a redeploy sees "unchanged")', () => {
    expect(renderNodeFiles(planServices(manifest(), facts()), n(lab, 'n2'))).toEqual(renderNodeFiles(lab, n(lab, 'n2')));
  });
});
