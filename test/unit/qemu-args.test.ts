import { describe, expect, it } from 'vitest';
import { VlxError } from '../../main/errors.js';
import { KVM_ACCEL, TCG_ACCEL, checkMac, checkTap, qemuArgs, vmRunFiles, type VmSpec } from '../../main/vm/qemuArgs.js';
import { tinyGuestParams } from '../../main/images/tiny.js';

const base: VmSpec = {
  name: 'web-1',
  runDir: '/run/virtualinux/vm',
  accel: TCG_ACCEL,
  memMb: 128,
  vcpus: 1,
  boot: { kind: 'kernel', kernel: '/srv/virtualinux/images/tiny.kernel', initrd: '/srv/virtualinux/images/tiny.initrd', append: 'console=ttyS0 quiet vlx.ip=10.200.1.2/24' },
  disks: [{ path: '/srv/virtualinux/vc/web/web-1.qcow2', format: 'qcow2' }],
  nic: null,
};

const HEAD = [
  'qemu-system-x86_64', '-name', 'web-1,process=qemu-web-1', '-daemonize',
  '-pidfile', '/run/virtualinux/vm/web-1.pid',
  '-qmp', 'unix:/run/virtualinux/vm/web-1.qmp,server=on,wait=off',
  '-serial', 'unix:/run/virtualinux/vm/web-1.serial,server=on,wait=off',
  '-display', 'none', '-nodefaults',
];

describe('qemuArgs', () => {
  it('builds the full argv of a TCG kernel-boot VM without a NIC', () => {
    expect(qemuArgs(base)).toEqual({
      argv: [
        ...HEAD,
        '-machine', 'pc,accel=tcg', '-cpu', 'qemu64', '-m', '128', '-smp', '1',
        '-kernel', '/srv/virtualinux/images/tiny.kernel', '-initrd', '/srv/virtualinux/images/tiny.initrd', '-append', 'console=ttyS0 quiet vlx.ip=10.200.1.2/24',
        '-blockdev', 'driver=file,node-name=disk0f,filename=/srv/virtualinux/vc/web/web-1.qcow2',
        '-blockdev', 'driver=qcow2,node-name=disk0,file=disk0f',
        '-device', 'virtio-blk-pci,drive=disk0,id=disk0dev',
      ],
      pidFile: '/run/virtualinux/vm/web-1.pid',
      qmpSocket: '/run/virtualinux/vm/web-1.qmp',
      serialSocket: '/run/virtualinux/vm/web-1.serial',
    });
  });

  it('builds a KVM disk-boot VM with swap, a read-only seed, a tap, and a TCP migration target', () => {
    const { argv } = qemuArgs({
      ...base,
      accel: KVM_ACCEL,
      memMb: 2048,
      vcpus: 4,
      boot: { kind: 'disk' },
      disks: [
        { path: '/srv/virtualinux/vc/web/web-1.qcow2', format: 'qcow2' },
        { path: '/srv/virtualinux/vc/web/web-1.swap.qcow2', format: 'qcow2' },
        { path: '/srv/virtualinux/vc/web/web-1.seed', format: 'raw', readOnly: true },
      ],
      nic: { tap: 'vlx-web-1', mac: '52:54:00:c8:01:02' },
      instance: 'in1',
      incoming: { kind: 'tcp', host: '0.0.0.0', port: 49152 },
    });
    expect(argv).toEqual([
      'qemu-system-x86_64', '-name', 'web-1,process=qemu-web-1', '-daemonize',
      '-pidfile', '/run/virtualinux/vm/web-1.in1.pid',
      '-qmp', 'unix:/run/virtualinux/vm/web-1.in1.qmp,server=on,wait=off',
      '-serial', 'unix:/run/virtualinux/vm/web-1.in1.serial,server=on,wait=off',
      '-display', 'none', '-nodefaults',
      '-machine', 'pc,accel=kvm', '-cpu', 'host', '-m', '2048', '-smp', '4',
      '-blockdev', 'driver=file,node-name=disk0f,filename=/srv/virtualinux/vc/web/web-1.qcow2',
      '-blockdev', 'driver=qcow2,node-name=disk0,file=disk0f',
      '-device', 'virtio-blk-pci,drive=disk0,id=disk0dev,bootindex=0',
      '-blockdev', 'driver=file,node-name=disk1f,filename=/srv/virtualinux/vc/web/web-1.swap.qcow2',
      '-blockdev', 'driver=qcow2,node-name=disk1,file=disk1f',
      '-device', 'virtio-blk-pci,drive=disk1,id=disk1dev',
      '-blockdev', 'driver=file,node-name=disk2f,filename=/srv/virtualinux/vc/web/web-1.seed,read-only=on',
      '-blockdev', 'driver=raw,node-name=disk2,file=disk2f,read-only=on',
      '-device', 'virtio-blk-pci,drive=disk2,id=disk2dev',
      '-netdev', 'tap,id=net0,ifname=vlx-web-1,script=no,downscript=no',
      '-device', 'virtio-net-pci,netdev=net0,mac=52:54:00:c8:01:02',
      '-incoming', 'tcp:0.0.0.0:49152',
    ]);
  });

  it('builds a microvm: the same argv with virtio devices on MMIO slots instead of PCI', () => {
    const { argv } = qemuArgs({
      ...base,
      machine: 'microvm',
      disks: [
        { path: '/srv/virtualinux/vc/web/web-1.qcow2', format: 'qcow2' },
        { path: '/srv/virtualinux/vc/web/web-1.swap.qcow2', format: 'qcow2' },
      ],
      nic: { tap: 'vlx-web-1', mac: '52:54:00:c8:01:02' },
    });
    expect(argv).toEqual([
      ...HEAD,
      '-machine', 'microvm,accel=tcg', '-cpu', 'qemu64', '-m', '128', '-smp', '1',
      '-kernel', '/srv/virtualinux/images/tiny.kernel', '-initrd', '/srv/virtualinux/images/tiny.initrd', '-append', 'console=ttyS0 quiet vlx.ip=10.200.1.2/24',
      '-blockdev', 'driver=file,node-name=disk0f,filename=/srv/virtualinux/vc/web/web-1.qcow2',
      '-blockdev', 'driver=qcow2,node-name=disk0,file=disk0f',
      '-device', 'virtio-blk-device,drive=disk0,id=disk0dev',
      '-blockdev', 'driver=file,node-name=disk1f,filename=/srv/virtualinux/vc/web/web-1.swap.qcow2',
      '-blockdev', 'driver=qcow2,node-name=disk1,file=disk1f',
      '-device', 'virtio-blk-device,drive=disk1,id=disk1dev',
      '-netdev', 'tap,id=net0,ifname=vlx-web-1,script=no,downscript=no',
      '-device', 'virtio-net-device,netdev=net0,mac=52:54:00:c8:01:02',
    ]);
    expect(argv.join(' ')).not.toContain('-pci');
    expect(qemuArgs({ ...base, machine: 'pc' }).argv).toEqual(qemuArgs(base).argv);
  });

  it.each([
    [{ kind: 'file', path: '/srv/virtualinux/vc/web/web-1.state' }, 'exec:cat /srv/virtualinux/vc/web/web-1.state'],
    [{ kind: 'tcp', host: '10.77.0.2', port: 4444 }, 'tcp:10.77.0.2:4444'],
    [{ kind: 'defer' }, 'defer'],
  ] as const)('incoming %j → %s', (incoming, uri) => {
    const { argv } = qemuArgs({ ...base, incoming });
    expect(argv.slice(-2)).toEqual(['-incoming', uri]);
  });

  it('adds -S last when asked to start paused', () => {
    expect(qemuArgs({ ...base, paused: true }).argv.at(-1)).toBe('-S');
    expect(qemuArgs(base).argv).not.toContain('-S');
  });

  it('takes another binary name', () => {
    expect(qemuArgs(base, '/usr/bin/qemu-system-x86_64').argv[0]).toBe('/usr/bin/qemu-system-x86_64');
  });

  const long = 'a'.repeat(100);
  it.each<[string, Partial<VmSpec>, string]>([
    ['name with shell syntax', { name: 'web;rm' }, 'vm: must be 1-32 chars'],
    ['name upper case', { name: 'Web' }, 'vm: must be'],
    ['relative runDir', { runDir: 'run/vm' }, 'runDir: must be an absolute path'],
    ['runDir with a comma', { runDir: '/run/a,b' }, 'runDir: must be an absolute path'],
    ['runDir that climbs', { runDir: '/run/../etc' }, 'runDir: must be an absolute path'],
    ['socket path over 107 bytes', { runDir: `/run/${long}` }, 'runDir: socket path must be at most 107 bytes'],
    ['memory 0', { memMb: 0 }, 'memMb: must be a whole number from 16'],
    ['memory fractional', { memMb: 1.5 }, 'memMb: must be a whole number'],
    ['vcpus 0', { vcpus: 0 }, 'vcpus: must be a whole number from 1 to 256'],
    ['vcpus 257', { vcpus: 257 }, 'vcpus: must be a whole number from 1 to 256'],
    ['unknown accel', { accel: { accel: 'xen', cpu: 'host' } as never }, 'accel: must be kvm or tcg'],
    ['unknown machine', { machine: 'q35' as never }, 'machine: must be pc or microvm'],
    ['microvm booting a disk', { machine: 'microvm', boot: { kind: 'disk' } }, 'machine: microvm needs a kernel boot'],
    ['kernel path with a space', { boot: { kind: 'kernel', kernel: '/srv/a b', initrd: '/srv/i', append: '' } }, 'boot.kernel: must be an absolute path'],
    ['initrd relative', { boot: { kind: 'kernel', kernel: '/srv/k', initrd: 'i', append: '' } }, 'boot.initrd: must be an absolute path'],
    ['append with a newline', { boot: { kind: 'kernel', kernel: '/srv/k', initrd: '/srv/i', append: 'a\nb' } }, 'boot.append: must be printable ASCII'],
    ['append too long', { boot: { kind: 'kernel', kernel: '/srv/k', initrd: '/srv/i', append: 'x'.repeat(2049) } }, 'boot.append: must be printable ASCII, at most 2048'],
    ['disk path with a comma', { disks: [{ path: '/srv/a,file=/etc/shadow', format: 'qcow2' }] }, 'disks[0].path: must be an absolute path'],
    ['disk format', { disks: [{ path: '/srv/a', format: 'vmdk' as never }] }, 'disks[0].format: must be qcow2 or raw'],
    ['tap too long', { nic: { tap: 'a234567890123456', mac: '52:54:00:00:00:01' } }, 'nic.tap: must be 1-15 chars'],
    ['tap with a slash', { nic: { tap: 'a/b', mac: '52:54:00:00:00:01' } }, 'nic.tap: must be 1-15 chars'],
    ['mac upper case', { nic: { tap: 't0', mac: '52:54:00:AA:00:01' } }, 'nic.mac: must be six lowercase hex pairs'],
    ['mac multicast', { nic: { tap: 't0', mac: '53:54:00:00:00:01' } }, 'nic.mac: must be a unicast address'],
    ['mac short', { nic: { tap: 't0', mac: '52:54:00:00:01' } }, 'nic.mac: must be six lowercase hex pairs'],
    ['incoming file with a space', { incoming: { kind: 'file', path: '/srv/a b' } }, 'incoming.path: must be an absolute path'],
    ['incoming file with a redirect', { incoming: { kind: 'file', path: '/srv/a>b' } }, 'incoming.path: must be an absolute path'],
    ['incoming host name', { incoming: { kind: 'tcp', host: 'node1;x', port: 1 } }, 'incoming.host: must be an IPv4 address'],
    ['incoming port 0', { incoming: { kind: 'tcp', host: '10.77.0.1', port: 0 } }, 'incoming.port: must be a whole number from 1 to 65535'],
    ['instance with a dot', { instance: 'a.b' }, 'instance: must be 1-8 lowercase letters or digits'],
  ])('refuses %s', (_label, change, message) => {
    let err: unknown;
    try {
      qemuArgs({ ...base, ...change });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(VlxError);
    expect((err as VlxError).code).toBe('invalid-input');
    expect((err as VlxError).message).toContain(message);
  });
});

describe('names and addresses', () => {
  it('vmRunFiles is stable and per instance', () => {
    expect(vmRunFiles('/run/virtualinux/vm/', 'a')).toEqual({ pidFile: '/run/virtualinux/vm/a.pid', qmpSocket: '/run/virtualinux/vm/a.qmp', serialSocket: '/run/virtualinux/vm/a.serial' });
    expect(vmRunFiles('/r', 'a', 'x1').qmpSocket).toBe('/r/a.x1.qmp');
  });
  it.each(['52:54:00:00:00:01', '02:00:00:00:00:00', 'fe:ff:ff:ff:ff:ff'])('accepts MAC %s', (m) => expect(checkMac(m)).toBe(m));
  it.each(['01:00:5e:00:00:01', 'ff:ff:ff:ff:ff:ff', '52-54-00-00-00-01', '', 42])('refuses MAC %j', (m) => expect(() => checkMac(m)).toThrow(VlxError));
  it.each(['t', 'vlx-web-1', 'a23456789012345'])('accepts tap %s', (t) => expect(checkTap(t)).toBe(t));
  it.each(['', '1tap', 'a234567890123456', 'Tap', 'a b'])('refuses tap %j', (t) => expect(() => checkTap(t)).toThrow(VlxError));
});

describe('tinyGuestParams', () => {
  it.each<[Parameters<typeof tinyGuestParams>[0], string]>([
    [{}, ''],
    [{ name: 'web-1' }, 'vlx.name=web-1'],
    [{ ip: '10.200.1.2', prefix: 24, gw: '10.200.1.1', name: 'web-1', vc: 'web' }, 'vlx.ip=10.200.1.2/24 vlx.gw=10.200.1.1 vlx.name=web-1 vlx.vc=web'],
    [{ ip: '10.200.1.2' }, 'vlx.ip=10.200.1.2/24'],
    [{ ip: '10.200.1.2', prefix: 32 }, 'vlx.ip=10.200.1.2/32'],
    [{ shared: '10.200.1.1:/srv/virtualinux/vc/web/shared' }, 'vlx.shared=10.200.1.1:/srv/virtualinux/vc/web/shared'],
  ])('%j → %s', (p, out) => expect(tinyGuestParams(p)).toBe(out));
  it.each<[Parameters<typeof tinyGuestParams>[0], string]>([
    [{ ip: '10.200.1' }, 'ip: must be an IPv4 address'],
    [{ ip: '10.200.1.2 init=/bin/sh' }, 'ip: must be an IPv4 address'],
    [{ ip: '10.200.1.2', prefix: 33 }, 'prefix: must be 1-32'],
    [{ ip: '10.200.1.2', prefix: 0 }, 'prefix: must be 1-32'],
    [{ gw: 'x' }, 'gw: must be an IPv4 address'],
    [{ name: 'a b' }, 'name: must be 1-32 chars'],
    [{ vc: 'A' }, 'vc: must be 1-24 chars'],
    [{ shared: '10.0.0.1:/a b' }, 'shared: must be ADDRESS:/path'],
    [{ shared: 'host:/a' }, 'shared: must be ADDRESS:/path'],
  ])('refuses %j', (p, message) => expect(() => tinyGuestParams(p)).toThrow(message));
});
