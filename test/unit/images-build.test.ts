import { describe, expect, it } from 'vitest';
import { cpioNewc } from '../../main/images/cpio.js';
import { debFileName, parseAptShow } from '../../main/images/debs.js';
import { moduleClosure, moduleName, parseModulesDep } from '../../main/images/modules.js';

/** Read a newc archive back: the format's own rules (110-byte header, 4-byte alignment). */
function readNewc(buf: Buffer): { name: string; mode: number; size: number; rdev: [number, number]; data: Buffer; at: number }[] {
  const out = [];
  let off = 0;
  for (;;) {
    expect(off % 4).toBe(0);
    expect(buf.toString('ascii', off, off + 6)).toBe('070701');
    const f = (i: number): number => parseInt(buf.toString('ascii', off + 6 + i * 8, off + 14 + i * 8), 16);
    const mode = f(1);
    const size = f(6);
    const nameLen = f(11);
    const name = buf.toString('utf8', off + 110, off + 110 + nameLen - 1);
    expect(buf[off + 110 + nameLen - 1]).toBe(0);
    const dataAt = Math.ceil((off + 110 + nameLen) / 4) * 4;
    out.push({ name, mode, size, rdev: [f(9), f(10)] as [number, number], data: buf.subarray(dataAt, dataAt + size), at: off });
    off = Math.ceil((dataAt + size) / 4) * 4;
    if (name === 'TRAILER!!!') break;
  }
  expect(off).toBe(buf.length);
  return out;
}

describe('cpioNewc', () => {
  it('writes files, symlinks, devices and missing parents in sorted order, then the trailer', () => {
    const a = readNewc(cpioNewc([
      { type: 'file', path: '/bin/busybox', data: Buffer.from('ELF!!'), mode: 0o755 },
      { type: 'symlink', path: 'bin/sh', target: 'busybox' },
      { type: 'char', path: 'dev/console', major: 5, minor: 1 },
      { type: 'file', path: 'init', data: Buffer.from('#!/bin/sh\n'), mode: 0o755 },
      { type: 'dir', path: 'tmp', mode: 0o1777 },
    ]));
    expect(a.map((e) => [e.name, e.mode.toString(8), e.size])).toEqual([
      ['bin', '40755', 0],
      ['bin/busybox', '100755', 5],
      ['bin/sh', '120777', 7],
      ['dev', '40755', 0],
      ['dev/console', '20600', 0],
      ['init', '100755', 10],
      ['tmp', '41777', 0],
      ['TRAILER!!!', '0', 0],
    ]);
    expect(a[1].data.toString()).toBe('ELF!!');
    expect(a[2].data.toString()).toBe('busybox');
    expect(a[4].rdev).toEqual([5, 1]);
  });

  it.each([0, 1, 2, 3, 4, 5])('keeps 4-byte alignment with %i data bytes', (n) => {
    const a = readNewc(cpioNewc([{ type: 'file', path: 'x', data: Buffer.alloc(n, 1) }, { type: 'file', path: 'yy', data: Buffer.alloc(n + 1, 2) }]));
    expect(a.map((e) => e.size)).toEqual([n, n + 1, 0]);
  });

  it('is reproducible: the same entries in any order give the same bytes', () => {
    const e1 = { type: 'file' as const, path: 'a', data: Buffer.from('1') };
    const e2 = { type: 'file' as const, path: 'b/c', data: Buffer.from('2') };
    expect(cpioNewc([e1, e2]).equals(cpioNewc([e2, e1]))).toBe(true);
  });

  it.each(['', '/', 'a/../b', 'a//b'])('refuses the path %j', (p) => {
    expect(() => cpioNewc([{ type: 'dir', path: p }])).toThrow('cpio: bad path');
  });
});

const DEP = `kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko
kernel/net/core/failover.ko:
kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/virtio/virtio_ring.ko:
kernel/drivers/block/virtio_blk.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio_pci_legacy_dev.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/virtio/virtio_pci_legacy_dev.ko:
kernel/fs/x-y.ko.xz:
`;

describe('kernel module closure', () => {
  const deps = parseModulesDep(DEP);
  const names = (wanted: string[]): string[] => moduleClosure(deps, wanted).map(moduleName);

  it.each<[string[], string[]]>([
    [['failover'], ['failover']],
    [['virtio_net'], ['failover', 'net_failover', 'virtio_ring', 'virtio', 'virtio_net']],
    [['virtio_pci', 'virtio_net', 'virtio_blk'], ['virtio_pci_legacy_dev', 'virtio_ring', 'virtio', 'virtio_pci', 'failover', 'net_failover', 'virtio_net', 'virtio_blk']],
    [['virtio_blk', 'virtio_blk'], ['virtio_ring', 'virtio', 'virtio_blk']],
    [['x-y'], ['x_y']],
    [[], []],
  ])('%j loads as %j', (wanted, order) => expect(names(wanted)).toEqual(order));

  it('puts every dependency before its dependent', () => {
    const order = moduleClosure(deps, ['virtio_pci', 'virtio_net', 'virtio_blk']);
    for (const [mod, ds] of deps) {
      if (!order.includes(mod)) continue;
      for (const d of ds) expect(order.indexOf(d)).toBeLessThan(order.indexOf(mod));
    }
  });

  it('names an unknown module, a missing dependency and a cycle', () => {
    expect(() => moduleClosure(deps, ['9pnet'])).toThrow('kernel module 9pnet is not in this kernel\'s modules.dep');
    expect(() => moduleClosure(parseModulesDep('a.ko: b.ko\n'), ['a'])).toThrow('modules.dep: a needs b.ko, which is not listed');
    expect(() => moduleClosure(parseModulesDep('a.ko: b.ko\nb.ko: a.ko\n'), ['a'])).toThrow('modules.dep has a cycle: a -> b -> a');
  });
});

describe('apt metadata', () => {
  it('parses apt-cache show stanzas, continuation lines included', () => {
    const s = parseAptShow(`Package: linux-image-cloud-amd64\nVersion: 6.1.192-2\nArchitecture: amd64\nDepends: linux-image-6.1.0-56-cloud-amd64 (= 6.1.192-2)\nDescription-en: Linux for x86-64 cloud\n more text\n\nPackage: busybox-static\nVersion: 1:1.35.0-4+deb12u1+b1\nArchitecture: amd64\n`);
    expect(s).toEqual([
      { Package: 'linux-image-cloud-amd64', Version: '6.1.192-2', Architecture: 'amd64', Depends: 'linux-image-6.1.0-56-cloud-amd64 (= 6.1.192-2)', 'Description-en': 'Linux for x86-64 cloud\nmore text' },
      { Package: 'busybox-static', Version: '1:1.35.0-4+deb12u1+b1', Architecture: 'amd64' },
    ]);
  });

  it.each([
    [{ name: 'busybox-static', version: '1:1.35.0-4+deb12u1+b1', arch: 'amd64' }, 'busybox-static_1%3a1.35.0-4+deb12u1+b1_amd64.deb'],
    [{ name: 'linux-image-6.1.0-56-cloud-amd64', version: '6.1.192-2', arch: 'amd64' }, 'linux-image-6.1.0-56-cloud-amd64_6.1.192-2_amd64.deb'],
  ])('names the downloaded file of %j as apt-get does', (p, file) => expect(debFileName(p)).toBe(file));
});
