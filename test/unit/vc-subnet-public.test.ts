import { describe, expect, it } from 'vitest';
import { Manifest, reservedNetworksOf } from '../../main/domain/manifest.js';
import { allocateSubnet } from '../../main/domain/subnet.js';
import { VlxError } from '../../main/errors.js';

/**
 * A VC subnet never overlaps the gateway's public network: a VC there would shadow the
 * outside for every VC, and the holder's public filter drops what comes from that network.
 * (A public network in a private range is what makes this possible: an office LAN as the outside.)
 */
const manifest = (pub?: Record<string, unknown>) => Manifest.parse({
  version: 1, name: 'c', clusterNetwork: '10.77.0.0/24',
  nodes: [{ name: 'n1', address: '10.77.0.1', cores: 2, memMb: 2048 }],
  ...(pub ? { gateway: { public: pub } } : {}),
});
const LAN = { ip: '192.168.1.200', netmask: '255.255.255.0', router: '192.168.1.1' };

function error(fn: () => unknown): VlxError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(VlxError);
    return e as VlxError;
  }
  throw new Error('expected a VlxError');
}

describe('reservedNetworksOf', () => {
  it('the cluster network alone without a public side', () => {
    expect(reservedNetworksOf(manifest())).toEqual([{ cidr: '10.77.0.0/24', label: 'the cluster network' }]);
  });

  it.each([
    ['a dotted netmask', LAN, '192.168.1.0/24'],
    ['a prefix length', { ...LAN, netmask: 22 }, '192.168.0.0/22'],
    ['the lab\'s TEST-NET-3', { ip: '203.0.113.2', netmask: '255.255.255.0', router: '203.0.113.1' }, '203.0.113.0/24'],
  ])('adds the public network from %s', (_l, pub, cidr) => {
    expect(reservedNetworksOf(manifest(pub))[1]).toEqual({ cidr, label: 'the public network, gateway.public' });
  });

  it('a bad netmask names its field', () => {
    const e = error(() => reservedNetworksOf(manifest({ ...LAN, netmask: '255.0.255.0' })));
    expect(e.code).toBe('invalid-input');
    expect(e.message).toContain('gateway.public.netmask');
  });
});

describe('a VC subnet and the public network', () => {
  const reserved = reservedNetworksOf(manifest(LAN));
  it('a requested subnet over the public network is refused, naming the field and the network', () => {
    const e = error(() => allocateSubnet('10.200.0.0/16', [], reserved, '192.168.1.0/24', 2));
    expect(e.code).toBe('invalid-input');
    expect(e.message).toBe('subnet: must not overlap 192.168.1.0/24 (the public network, gateway.public) (got "192.168.1.0/24")');
    expect(error(() => allocateSubnet('10.200.0.0/16', [], reserved, '192.168.0.0/16', 2)).message).toContain('the public network');
  });

  it('next to it is fine', () => {
    expect(allocateSubnet('10.200.0.0/16', [], reserved, '192.168.2.0/24', 2)).toBe('192.168.2.0/24');
  });

  it('auto skips it when the pool holds it', () => {
    expect(allocateSubnet('192.168.0.0/22', [], reserved, 'auto', 2)).toBe('192.168.0.0/24');
    expect(allocateSubnet('192.168.0.0/22', ['192.168.0.0/24'], reserved, 'auto', 2)).toBe('192.168.2.0/24');
  });
});
