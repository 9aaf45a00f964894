import { describe, expect, it } from 'vitest';
import { outcome } from '../support/outcome.js';
import {
  allocateSubnet, autoPrefixFor, cidrContains, cidrOverlaps, formatCidr, intToIp, ipToInt,
  isPrivate, parseCidr, vmCapacity,
} from '../../main/domain/subnet.js';


describe('ipToInt / intToIp', () => {
  it.each([
    ['0.0.0.0', 0],
    ['0.0.0.1', 1],
    ['10.200.3.2', 0x0ac80302],
    ['192.168.255.254', 0xc0a8fffe],
    ['255.255.255.255', 0xffffffff],
  ])('%s <-> %d', (ip, n) => {
    expect(ipToInt(ip)).toBe(n);
    expect(intToIp(n)).toBe(ip);
  });
  it.each(['256.0.0.1', '10.0.0', '10.0.0.1.2', '010.0.0.1', ' 10.0.0.1', '10.0.0.1/32', '', 'a.b.c.d'])('refuses %j', (ip) => {
    expect(outcome(() => ipToInt(ip, 'VM address'))).toEqual({
      code: 'invalid-input', message: `VM address: must be an IPv4 address like 10.200.0.2 (got ${JSON.stringify(ip)})`,
    });
  });
});

describe('parseCidr / formatCidr', () => {
  it.each([
    ['10.200.0.0/16', 0x0ac80000, 16],
    ['10.200.3.0/24', 0x0ac80300, 24],
    ['10.200.3.16/28', 0x0ac80310, 28],
    ['0.0.0.0/0', 0, 0],
    ['10.1.2.3/32', 0x0a010203, 32],
  ])('%s', (text, base, prefix) => {
    expect(parseCidr(text)).toEqual({ base, prefix });
    expect(formatCidr(parseCidr(text))).toBe(text);
  });
  it.each([
    ['10.200.3.1/24', 'subnet: has host bits set; the network is 10.200.3.0/24 (got "10.200.3.1/24")'],
    ['10.200.0.0/33', 'subnet: must be an IPv4 CIDR like 10.200.3.0/24 (got "10.200.0.0/33")'],
    ['10.200.0.0', 'subnet: must be an IPv4 CIDR like 10.200.3.0/24 (got "10.200.0.0")'],
    ['10.200.0.0/', 'subnet: must be an IPv4 CIDR like 10.200.3.0/24 (got "10.200.0.0/")'],
    ['10.200.0.0/024', 'subnet: must be an IPv4 CIDR like 10.200.3.0/24 (got "10.200.0.0/024")'],
    ['10.200.0.0/24; rm -rf /', 'subnet: must be an IPv4 CIDR like 10.200.3.0/24 (got "10.200.0.0/24; rm -rf /")'],
  ])('refuses %j', (text, message) => {
    expect(outcome(() => parseCidr(text, 'subnet'))).toEqual({ code: 'invalid-input', message });
  });
});

describe('containment and overlap', () => {
  const c = (s: string) => parseCidr(s);
  it.each([
    ['10.200.0.0/16', '10.200.3.0/24', true, true],
    ['10.200.3.0/24', '10.200.0.0/16', false, true],
    ['10.200.3.0/24', '10.200.3.0/24', true, true],
    ['10.200.3.0/24', '10.200.4.0/24', false, false],
    ['10.200.3.0/25', '10.200.3.128/25', false, false],
    ['10.200.3.0/24', '10.200.3.128/25', true, true],
    ['10.77.0.0/24', '10.200.0.0/16', false, false],
    ['0.0.0.0/0', '255.255.255.255/32', true, true],
  ])('%s vs %s', (a, b, contains, overlaps) => {
    expect(cidrContains(c(a), c(b))).toBe(contains);
    expect(cidrOverlaps(c(a), c(b))).toBe(overlaps);
    expect(cidrOverlaps(c(b), c(a))).toBe(overlaps);
  });
  it('contains single addresses at the edges only', () => {
    const net = c('10.200.3.0/24');
    expect(cidrContains(net, ipToInt('10.200.3.0'))).toBe(true);
    expect(cidrContains(net, ipToInt('10.200.3.255'))).toBe(true);
    expect(cidrContains(net, ipToInt('10.200.4.0'))).toBe(false);
    expect(cidrContains(net, ipToInt('10.200.2.255'))).toBe(false);
  });
  it.each([
    ['10.0.0.0/8', true], ['10.255.255.0/24', true], ['172.16.0.0/12', true], ['172.31.255.0/24', true],
    ['172.32.0.0/24', false], ['172.15.255.0/24', false], ['192.168.7.0/24', true], ['192.169.0.0/24', false],
    ['8.8.8.0/24', false], ['0.0.0.0/0', false], ['10.0.0.0/7', false],
  ])('isPrivate(%s) = %s', (s, want) => {
    expect(isPrivate(c(s))).toBe(want);
  });
});

describe('capacity', () => {
  it.each([[28, 13], [27, 29], [24, 253], [23, 509], [16, 65533], [30, 1], [31, 0], [32, 0]])('a /%d holds %d VMs', (p, n) => {
    expect(vmCapacity(p)).toBe(n);
  });
  it.each([[1, 24], [253, 24], [254, 23], [256, 23], [509, 23], [510, 22]])('%d VMs get a /%d from auto', (n, p) => {
    expect(autoPrefixFor(n)).toBe(p);
  });
});

describe('allocateSubnet: auto', () => {
  const pool = '10.200.0.0/16';
  const lab = [{ cidr: '10.77.0.0/24', label: 'the cluster network' }];
  it.each([
    ['empty pool', [], [], 1, '10.200.0.0/24'],
    ['first taken', ['10.200.0.0/24'], [], 4, '10.200.1.0/24'],
    ['gap is reused', ['10.200.0.0/24', '10.200.2.0/24'], [], 4, '10.200.1.0/24'],
    ['a small taken subnet blocks its /24', ['10.200.0.64/28'], [], 4, '10.200.1.0/24'],
    ['a taken /22 is skipped whole', ['10.200.0.0/22'], [], 4, '10.200.4.0/24'],
    ['reserved inside the pool is skipped', [], ['10.200.0.0/23'], 4, '10.200.2.0/24'],
    ['reserved outside the pool changes nothing', [], ['10.77.0.0/24'], 4, '10.200.0.0/24'],
    ['a 256-VM VC gets an aligned /23', ['10.200.0.0/24'], [], 256, '10.200.2.0/23'],
    ['labelled claims work as strings do', [{ cidr: '10.200.0.0/24', label: 'VC a' }], lab, 2, '10.200.1.0/24'],
  ] as const)('%s', (_n, taken, reserved, vms, want) => {
    expect(allocateSubnet(pool, taken, reserved, 'auto', vms)).toBe(want);
  });
  it('hands out the last /24 and then refuses', () => {
    const taken = Array.from({ length: 255 }, (_, i) => `10.200.${i}.0/24`);
    expect(allocateSubnet(pool, taken, lab)).toBe('10.200.255.0/24');
    expect(outcome(() => allocateSubnet(pool, [...taken, '10.200.255.0/24'], lab))).toEqual({
      code: 'conflict', message: 'subnet: no free /24 left in pool 10.200.0.0/16 (256 VC subnets taken)',
    });
  });
  it('refuses a VC larger than the pool', () => {
    expect(outcome(() => allocateSubnet('10.200.0.0/24', [], [], 'auto', 300))).toEqual({
      code: 'conflict', message: 'subnet: a VC of 300 VMs needs a /23, larger than the pool 10.200.0.0/24',
    });
  });
  it('never returns a subnet overlapping anything, over many allocations', () => {
    const taken: string[] = ['10.200.5.0/24', '10.200.9.128/25'];
    const reserved = ['10.200.17.0/24'];
    for (let i = 0; i < 40; i++) {
      const s = allocateSubnet(pool, taken, reserved, 'auto', 1 + (i % 3) * 100);
      for (const other of [...taken, ...reserved]) expect(cidrOverlaps(parseCidr(s), parseCidr(other)), `${s} vs ${other}`).toBe(false);
      expect(cidrContains(parseCidr(pool), parseCidr(s))).toBe(true);
      taken.push(s);
    }
  });
});

describe('allocateSubnet: requested', () => {
  const pool = '10.200.0.0/16';
  const taken = [{ cidr: '10.200.0.0/24', label: 'VC alpha' }, '10.200.1.0/24'];
  const reserved = [{ cidr: '10.77.0.0/24', label: 'the cluster network' }];
  it.each([
    ['inside the pool', '10.200.7.0/24', 4, '10.200.7.0/24'],
    ['outside the pool, still private', '192.168.50.0/24', 4, '192.168.50.0/24'],
    ['a /28 for 13 VMs', '10.200.9.16/28', 13, '10.200.9.16/28'],
    ['a /16', '172.20.0.0/16', 4, '172.20.0.0/16'],
  ])('accepts %s', (_n, req, vms, want) => {
    expect(allocateSubnet(pool, taken, reserved, req, vms)).toBe(want);
  });
  it.each([
    ['public range', '8.8.8.0/24', 1, 'invalid-input', 'subnet: must lie inside a private range (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16) (got "8.8.8.0/24")'],
    ['straddles private and public', '172.0.0.0/10', 1, 'invalid-input', 'subnet: must lie inside a private range (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16) (got "172.0.0.0/10")'],
    ['too large', '10.0.0.0/15', 1, 'invalid-input', 'subnet: must be a /16 to /28 (got "10.0.0.0/15")'],
    ['too small', '10.200.9.0/29', 1, 'invalid-input', 'subnet: must be a /16 to /28 (got "10.200.9.0/29")'],
    ['no room for the VMs', '10.200.9.16/28', 14, 'invalid-input', 'subnet: a /28 has room for 13 VMs besides the gateway; 14 needed (got "10.200.9.16/28")'],
    ['host bits', '10.200.9.1/24', 1, 'invalid-input', 'subnet: has host bits set; the network is 10.200.9.0/24 (got "10.200.9.1/24")'],
    ['overlaps the cluster network', '10.77.0.0/16', 1, 'invalid-input', 'subnet: must not overlap 10.77.0.0/24 (the cluster network) (got "10.77.0.0/16")'],
    ['inside the cluster network', '10.77.0.16/28', 1, 'invalid-input', 'subnet: must not overlap 10.77.0.0/24 (the cluster network) (got "10.77.0.16/28")'],
    ['overlaps a labelled VC', '10.200.0.128/25', 1, 'conflict', 'subnet: 10.200.0.128/25 overlaps 10.200.0.0/24 (VC alpha), the subnet of another VC'],
    ['covers another VC', '10.200.0.0/16', 1, 'conflict', 'subnet: 10.200.0.0/16 overlaps 10.200.0.0/24 (VC alpha), the subnet of another VC'],
    ['equals an unlabelled VC', '10.200.1.0/24', 1, 'conflict', 'subnet: 10.200.1.0/24 overlaps 10.200.1.0/24, the subnet of another VC'],
  ])('refuses %s', (_n, req, vms, code, message) => {
    expect(outcome(() => allocateSubnet(pool, taken, reserved, req, vms))).toEqual({ code, message });
  });
});
