import { describe, expect, it } from 'vitest';
import { dropTemplate, identityLine, TEMPLATE_MAC, templateCommand, templateKey, useTemplate, warmCapable, type Identity, type TemplateShape } from '../../main/vm/warmStart.js';
import { renderTinyInit } from '../../main/images/tinyInit.js';
import { guestTimesNote, parseGuestTimes, readyNote, WARM_IDENTITY_TAG, WARM_WAIT_MARKER } from '../../main/vm/serial.js';
import { SERIAL_COMMAND_MAX } from '../../main/domain/consoleCommand.js';
import { storagePaths } from '../../main/domain/storagePaths.js';
import { TCG_ACCEL, KVM_ACCEL } from '../../main/vm/qemuArgs.js';

const shape: TemplateShape = {
  image: 'tiny',
  meta: { inputs: 'abc123', cmdline: 'console=ttyS0 quiet' },
  kernel: '/srv/vlx/images/tiny.kernel',
  initrd: '/srv/vlx/images/tiny.initrd',
  machine: { machine: 'microvm', append: ['tsc_early_khz=2100000'] },
  accel: TCG_ACCEL,
  memMb: 128,
  vcpus: 1,
  disks: ['qcow2'],
};
const id: Identity = {
  ip: '10.200.0.2', prefix: 24, gw: '10.200.0.1', name: 'vm1', vc: 'web', shared: '10.200.0.1:/vc/web',
  mac: '0a:00:0a:c8:00:02', time: 1_800_000_000, seed: 'ab'.repeat(32),
};

describe('which images start warm', () => {
  it.each<[string, Parameters<typeof warmCapable>[0], boolean]>([
    ['a kernel image built for it', { kind: 'kernel', warm: true }, true],
    ['a kernel image built before the field', { kind: 'kernel' }, false],
    ['a disk image (it boots through firmware)', { kind: 'disk', warm: true }, false],
  ])('%s', (_l, meta, yes) => expect(warmCapable(meta)).toBe(yes));
});

describe('the template QEMU', () => {
  const argv = templateCommand(shape, '/run/virtualinux/warm/0a1b2c3d').argv;
  const after = (flag: string): string[] => argv.flatMap((a, i) => (a === flag ? [argv[i + 1]] : []));

  it('boots the image as a template, paused, with the VMs’ machine shape', () => {
    expect(after('-append')[0]).toBe('console=ttyS0 quiet tsc_early_khz=2100000 vlx.warm=1');
    expect(after('-machine')[0]).toBe('microvm,accel=tcg');
    expect(after('-m')).toEqual(['128']);
    expect(after('-smp')).toEqual(['1']);
    expect(argv).toContain('-S');
  });

  it('has the same devices as a VM, but its NIC is linked to nothing and its disks are its own', () => {
    expect(after('-netdev')).toEqual(['hubport,id=net0,hubid=0']);
    expect(after('-device')).toContain(`virtio-net-device,netdev=net0,mac=${TEMPLATE_MAC}`);
    expect(after('-blockdev')[0]).toBe('driver=file,node-name=disk0f,filename=/run/virtualinux/warm/0a1b2c3d/disk0.qcow2');
    const two = templateCommand({ ...shape, disks: ['qcow2', 'qcow2'] }, '/run/virtualinux/warm/x').argv;
    expect(two.filter((a) => a.startsWith('virtio-blk-device'))).toHaveLength(2);
  });

  it('is keyed by everything its saved state depends on, and by nothing else', () => {
    const k = templateKey(shape, 'QEMU emulator version 7.2.15');
    expect(k).toMatch(/^[0-9a-f]{16}$/);
    expect(templateKey({ ...shape }, 'QEMU emulator version 7.2.15')).toBe(k);
    const variants: [string, TemplateShape, string][] = [
      ['memory', { ...shape, memMb: 256 }, ''],
      ['vCPUs', { ...shape, vcpus: 2 }, ''],
      ['machine', { ...shape, machine: { machine: 'pc', append: [] } }, ''],
      ['TSC rate', { ...shape, machine: { machine: 'microvm', append: ['tsc_early_khz=2200000'] } }, ''],
      ['accelerator', { ...shape, accel: KVM_ACCEL }, ''],
      ['swap disk', { ...shape, disks: ['qcow2', 'qcow2'] }, ''],
      ['image build', { ...shape, meta: { ...shape.meta, inputs: 'def456' } }, ''],
      ['image command line', { ...shape, meta: { ...shape.meta, cmdline: 'console=ttyS0' } }, ''],
      ['image', { ...shape, image: 'tiny-bench', kernel: '/srv/vlx/images/tiny-bench.kernel' }, ''],
      ['QEMU', shape, 'QEMU emulator version 8.0.0'],
    ];
    const keys = variants.map(([, s, q]) => templateKey(s, q || 'QEMU emulator version 7.2.15'));
    for (const [i, [what]] of variants.entries()) expect(keys[i], what).not.toBe(k);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('is stored beside its image on shared storage, under a checked key', () => {
    const p = storagePaths('/srv/vlx');
    expect(p.warmState('tiny', '0123456789abcdef')).toBe('/srv/vlx/images/warm/tiny.0123456789abcdef.state');
    expect(() => p.warmState('tiny', '../../etc/passwd')).toThrow(/warm template key: must be 16 lowercase hex digits/);
    expect(() => p.warmState('../x', '0123456789abcdef')).toThrow(/image name/);
  });
});

describe('the identity line', () => {
  it('carries who the guest is, its MAC, the time and a seed, as one console line', () => {
    const line = identityLine(id);
    expect(line).toBe(`${WARM_IDENTITY_TAG} vlx.ip=10.200.0.2/24 vlx.gw=10.200.0.1 vlx.name=vm1 vlx.vc=web vlx.shared=10.200.0.1:/vc/web ` +
      `vlx.mac=0a:00:0a:c8:00:02 vlx.time=1800000000 vlx.seed=${'ab'.repeat(32)}\n`);
    expect(line.length).toBeLessThanOrEqual(SERIAL_COMMAND_MAX + 1);
  });

  it.each<[string, Partial<Identity>, RegExp]>([
    ['a multicast MAC', { mac: '01:00:5e:00:00:01' }, /mac: must be a unicast address/],
    ['an upper-case MAC', { mac: '0A:00:0A:C8:00:02' }, /mac: must be six lowercase hex pairs/],
    ['a fractional time', { time: 1.5 }, /time: must be whole seconds/],
    ['a negative time', { time: -1 }, /time: must be whole seconds/],
    ['a short seed', { seed: 'abcd' }, /seed: must be 64 lowercase hex digits/],
    ['a seed with shell in it', { seed: `${'a'.repeat(60)};rm ` }, /seed: must be 64 lowercase hex digits/],
    ['an address that is not one', { ip: '10.200.0.300x' }, /ip: must be an IPv4 address/],
    ['a name with a space (it would be two words)', { name: 'vm 1' }, /name/],
    ['a shared export with a space', { shared: '10.200.0.1:/vc/web x' }, /shared: must be ADDRESS:\/path/],
    ['a line longer than the console keeps', { shared: `10.200.0.1:/${'a'.repeat(1000)}` }, /identity: must be at most \d+ characters on the console/],
  ])('refuses %s', (_l, bad, err) => expect(() => identityLine({ ...id, ...bad })).toThrow(err));
});

describe('the tiny init as a template', () => {
  const init = renderTinyInit({ bootModules: ['virtio_mmio.ko', 'virtio_net.ko', 'virtio_blk.ko', 'evdev.ko'], nfsModules: ['sunrpc.ko', 'nfs.ko'] });

  it('binds the disk driver only after the identity, so a copy never sees the template’s disk', () => {
    const load = /\nload\(\) \{\n([^}]*)\}/.exec(init)?.[1] ?? '';
    expect(load).toContain('virtio_net.ko');
    expect(load).not.toContain('virtio_blk.ko');
    expect(/loaddisk\(\) \{\n([^}]*)\}/.exec(init)?.[1]).toContain('virtio_blk.ko');
    const waits = init.indexOf(`echo "${WARM_WAIT_MARKER}"`);
    expect(waits).toBeGreaterThan(0);
    expect(init.indexOf('\nloaddisk\n')).toBeGreaterThan(waits);
    // The NFS client loads before the wait (no device behind it), not again after.
    expect(init.indexOf('    loadnfs\n')).toBeLessThan(waits);
  });

  it('waits on its console for a line with the tag, saying so every second, and takes it as its command line', () => {
    expect(init).toContain('exec 3</dev/console');
    expect(init).toContain('read -r -t 1 ID <&3');
    expect(init).toContain(`*"${WARM_IDENTITY_TAG}"*) true`);
    expect(init).toContain('ID="$(cat /proc/cmdline)"');
    expect(init).toContain('for w in $ID; do');
    expect(init).toContain('ip link set eth0 address "$MAC"');
    expect(init.indexOf('ip link set eth0 address')).toBeLessThan(init.indexOf('ip link set eth0 up'));
  });
});

describe('a warm start’s stage times', () => {
  it('are read with their origin and reported from the identity on', () => {
    const out = 'vlx-guest-times init=1.40 net=1.62 shared=1.80 ready=1.91 from=identity\r\nvlx-guest-ready vm1 10.0.0.2\r\n';
    const t = parseGuestTimes(out);
    expect(t).toEqual({ init: 1.4, net: 1.62, shared: 1.8, ready: 1.91, warm: true });
    expect(guestTimesNote(t!)).toBe('warm start; guest clock from its identity: network +0.22 s, shared mounted +0.40 s, ready +0.51 s');
    expect(readyNote(out)).toBe('guest ready; warm start; guest clock from its identity: network +0.22 s, shared mounted +0.40 s, ready +0.51 s');
  });
});

describe('a template found bad', () => {
  const recorder = () => {
    const ran: string[] = [];
    return { ran, conn: { name: 'n1', exec: async (c: string) => { ran.push(c); return { code: 0, stdout: '', stderr: '' }; } } as unknown as Parameters<typeof dropTemplate>[0] };
  };

  it('is deleted at once when nobody loads it', async () => {
    const { ran, conn } = recorder();
    await dropTemplate(conn, '/srv/vlx/images/warm/tiny.0000000000000001.state');
    expect(ran).toEqual(["rm -f /srv/vlx/images/warm/tiny.0000000000000001.state"]);
  });

  it('is deleted only when the last node loading it is done (a QEMU whose file vanished would wait for ever)', async () => {
    const { ran, conn } = recorder();
    const file = '/srv/vlx/images/warm/tiny.0000000000000002.state';
    const n1 = useTemplate(file);
    const n2 = useTemplate(file);
    await dropTemplate(conn, file);
    expect(ran).toEqual([]);
    await n1();
    await n1(); // ending a use twice counts once
    expect(ran).toEqual([]);
    await n2();
    expect(ran).toEqual([`rm -f ${file}`]);
    // Used again afterwards (a new build under the same name): nothing is deleted any more.
    const n3 = useTemplate(file);
    await n3();
    expect(ran).toHaveLength(1);
  });
});
