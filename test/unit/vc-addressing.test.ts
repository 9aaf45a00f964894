import { describe, expect, it } from 'vitest';
import { outcome } from '../support/outcome.js';
import {
  UNIX_SOCKET_PATH_MAX, gatewayIp, tapMac, tapName, vcAddresses, vmAddress, vmIndex, vmIp, vmMac, vmName, vmRuntimePaths,
} from '../../main/domain/addressing.js';
import { allocateSubnet } from '../../main/domain/subnet.js';


describe('VM names', () => {
  it.each([[1, 'vm1'], [9, 'vm9'], [10, 'vm10'], [256, 'vm256']])('%d <-> %s', (i, name) => {
    expect(vmName(i)).toBe(name);
    expect(vmIndex(name)).toBe(i);
  });
  it.each(['vm0', 'vm01', 'vm', 'VM1', 'vm1a', 'web1', 'vm-1', ' vm1'])('vmIndex refuses %j', (name) => {
    expect(outcome(() => vmIndex(name))).toEqual({
      code: 'invalid-input', message: `VM name: must be vm followed by its index, like vm3 (got ${JSON.stringify(name)})`,
    });
  });
  it.each([0, -1, 1.5])('vmName refuses %d', (i) => {
    expect(outcome(() => vmName(i))).toMatchObject({ code: 'invalid-input' });
  });
});

describe('addresses', () => {
  it.each([
    ['10.200.3.0/24', 1, '10.200.3.2'],
    ['10.200.3.0/24', 253, '10.200.3.254'],
    ['10.200.2.0/23', 254, '10.200.2.255'],
    ['10.200.2.0/23', 255, '10.200.3.0'],
    ['10.200.2.0/23', 509, '10.200.3.254'],
    ['10.200.9.16/28', 13, '10.200.9.30'],
  ])('in %s VM %d is %s', (subnet, i, ip) => {
    expect(vmIp(subnet, i)).toBe(ip);
  });
  it.each([
    ['10.200.3.0/24', 0, 'VM index: must be a whole number from 1 to 253 (got 0)'],
    ['10.200.3.0/24', 254, 'VM index: must be a whole number from 1 to 253 (got 254)'],
    ['10.200.9.16/28', 14, 'VM index: must be a whole number from 1 to 13 (got 14)'],
  ])('in %s VM %d does not fit', (subnet, i, message) => {
    expect(outcome(() => vmIp(subnet, i))).toEqual({ code: 'invalid-input', message });
  });
  it.each([['10.200.3.0/24', '10.200.3.1'], ['10.200.9.16/28', '10.200.9.17'], ['192.168.0.0/16', '192.168.0.1']])(
    'the gateway of %s is %s', (subnet, gw) => {
      expect(gatewayIp(subnet)).toBe(gw);
    });
});

describe('MACs and taps', () => {
  it.each([
    ['10.200.3.2', '0a:00:0a:c8:03:02', '0a:01:0a:c8:03:02', 'vt0ac80302'],
    ['192.168.255.254', '0a:00:c0:a8:ff:fe', '0a:01:c0:a8:ff:fe', 'vtc0a8fffe'],
    ['10.0.0.2', '0a:00:0a:00:00:02', '0a:01:0a:00:00:02', 'vt0a000002'],
  ])('%s', (ip, mac, tmac, tap) => {
    expect(vmMac(ip)).toBe(mac);
    expect(tapMac(ip)).toBe(tmac);
    expect(tapName(ip)).toBe(tap);
  });
  it('MACs are unicast and locally administered', () => {
    for (const ip of ['10.200.0.2', '172.16.0.2', '192.168.1.2']) {
      for (const mac of [vmMac(ip), tapMac(ip)]) {
        const first = parseInt(mac.slice(0, 2), 16);
        expect(first & 1, mac).toBe(0);
        expect(first & 2, mac).toBe(2);
        expect(mac.startsWith('52:54:00')).toBe(false);
      }
    }
  });
  it('no two VMs of 64 VCs of up to 253 VMs share a MAC, tap or address, and taps fit IFNAMSIZ', () => {
    const taken: string[] = [];
    const ips = new Set<string>();
    const macs = new Set<string>();
    const taps = new Set<string>();
    for (let v = 0; v < 64; v++) {
      const subnet = allocateSubnet('10.200.0.0/16', taken, ['10.77.0.0/24']);
      taken.push(subnet);
      const count = v === 0 ? 253 : 1 + (v % 17);
      for (const a of vcAddresses(`vc${v}`, subnet, count)) {
        expect(a.tap.length).toBeLessThanOrEqual(15);
        for (const [set, val] of [[ips, a.ip], [macs, a.mac], [macs, a.tapMac], [taps, a.tap]] as const) {
          expect(set.has(val), val).toBe(false);
          set.add(val);
        }
      }
    }
  });
});

describe('vmAddress / vcAddresses', () => {
  it('gives vm1 the first address after the gateway', () => {
    expect(vmAddress('web', '10.200.3.0/24', 1)).toEqual({
      index: 1, name: 'vm1', ip: '10.200.3.2', prefix: 24, gateway: '10.200.3.1',
      mac: '0a:00:0a:c8:03:02', tap: 'vt0ac80302', tapMac: '0a:01:0a:c8:03:02',
    });
  });
  it('lists vm1..vmN in order', () => {
    expect(vcAddresses('web', '10.200.9.16/28', 3).map((a) => [a.name, a.ip])).toEqual([
      ['vm1', '10.200.9.18'], ['vm2', '10.200.9.19'], ['vm3', '10.200.9.20'],
    ]);
  });
  it.each([
    ['web', '10.200.9.16/28', 14, 'VM count: must be a whole number from 1 to 13 (got 14)'],
    ['web', '10.200.9.16/28', 0, 'VM count: must be a whole number from 1 to 13 (got 0)'],
    ['Web;x', '10.200.9.16/28', 1, 'VC name: must be 1-24 chars: a lowercase letter, then lowercase letters, digits or "-" (got "Web;x")'],
    ['web', '10.200.9.17/28', 1, 'subnet: has host bits set; the network is 10.200.9.16/28 (got "10.200.9.17/28")'],
  ])('refuses %j %s x%d', (vc, subnet, n, message) => {
    expect(outcome(() => vcAddresses(vc, subnet, n))).toEqual({ code: 'invalid-input', message });
  });
});

describe('vmRuntimePaths', () => {
  it('puts the sockets under the node runtime directory', () => {
    expect(vmRuntimePaths('web', 'vm3')).toEqual({
      dir: '/run/virtualinux/vm/web',
      qmp: '/run/virtualinux/vm/web/vm3.qmp',
      serial: '/run/virtualinux/vm/web/vm3.serial',
      pid: '/run/virtualinux/vm/web/vm3.pid',
    });
  });
  it('the longest names still fit in a unix socket path', () => {
    const p = vmRuntimePaths('v'.repeat(24), 'm'.repeat(32));
    expect(Buffer.byteLength(p.serial)).toBeLessThanOrEqual(UNIX_SOCKET_PATH_MAX);
  });
  it('refuses a runtime directory that makes socket paths too long', () => {
    expect(outcome(() => vmRuntimePaths('web', 'm'.repeat(32), `/${'r'.repeat(70)}`))).toMatchObject({
      code: 'invalid-input', message: expect.stringMatching(/^runtime directory: makes socket paths longer than 107 bytes/),
    });
  });
  it.each([
    ['../etc', 'vm1', 'VC name'],
    ['web', 'vm1/../../x', 'VM name'],
    ['web', '$(id)', 'VM name'],
    ['', 'vm1', 'VC name'],
  ])('refuses %j / %j', (vc, vm, field) => {
    expect(outcome(() => vmRuntimePaths(vc, vm))).toMatchObject({ code: 'invalid-input', message: expect.stringMatching(new RegExp(`^${field}: `)) });
  });
});
