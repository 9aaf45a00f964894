import { describe, expect, it } from 'vitest';
import { KVM_ACCEL, TCG_ACCEL } from '../../main/vm/qemuArgs.js';
import { machineFor, parseTscKhz } from '../../main/vm/machine.js';
import { machineOfStateHead, machineOfType } from '../../main/vm/machineFacts.js';

const tiny = { kind: 'kernel', machine: 'microvm' } as const;

describe('machineFor: the one rule for which QEMU machine a VM gets', () => {
  it.each<[string, Parameters<typeof machineFor>[0], Parameters<typeof machineFor>[1], number | undefined, ReturnType<typeof machineFor>]>([
    ['a microvm kernel image under KVM: microvm, nothing to add (kvmclock)', tiny, KVM_ACCEL, undefined, { machine: 'microvm', append: [] }],
    ['a microvm kernel image under TCG with the TSC rate: microvm, told the rate', tiny, TCG_ACCEL, 2_596_132, { machine: 'microvm', append: ['tsc_early_khz=2596132'] }],
    ['a microvm kernel image under TCG, rate unknown: pc (its HPET calibrates the TSC)', tiny, TCG_ACCEL, undefined, { machine: 'pc', append: [] }],
    ['a rate that is not a whole kHz: pc', tiny, TCG_ACCEL, 2_596_132.5, { machine: 'pc', append: [] }],
    ['an absurd rate: pc', tiny, TCG_ACCEL, 42, { machine: 'pc', append: [] }],
    ['a kernel image built before the field (no virtio_mmio): pc', { kind: 'kernel' }, KVM_ACCEL, undefined, { machine: 'pc', append: [] }],
    ['a kernel image that says pc: pc', { kind: 'kernel', machine: 'pc' }, TCG_ACCEL, 2_596_132, { machine: 'pc', append: [] }],
    ['an imported cloud disk image: pc', { kind: 'disk' }, KVM_ACCEL, undefined, { machine: 'pc', append: [] }],
    ['a disk image that claims microvm: still pc (microvm boots kernels only)', { kind: 'disk', machine: 'microvm' }, TCG_ACCEL, 2_596_132, { machine: 'pc', append: [] }],
  ])('%s', (_label, image, accel, khz, out) => {
    expect(machineFor(image, accel, khz)).toEqual(out);
  });
});

describe('parseTscKhz', () => {
  it.each<[string, number | undefined]>([
    ['cpu MHz\t\t: 2596.132\n', 2_596_132],
    ['[    2.1] tsc: Refined TSC clocksource calibration: 2596.133 MHz\ncpu MHz\t\t: 1200.000\n', 2_596_133],
    ['[    0.0] tsc: Detected 3000.000 MHz processor\ncpu MHz\t\t: 1200.000\n', 3_000_000],
    ['[    0.0] tsc: Detected 3000.000 MHz processor\n[    2.1] tsc: Refined TSC clocksource calibration: 2999.998 MHz\n', 2_999_998],
    ['cpu MHz : 2400\n', 2_400_000],
    ['', undefined],
    ['cpu MHz\t\t: unknown\n', undefined],
    ['cpu MHz\t\t: 0.001\n', undefined],
    ['model name : cpu MHz: 3000\n', undefined],
  ])('%j → %s', (out, khz) => expect(parseTscKhz(out)).toBe(khz));
});

describe('the machine of a running QEMU and of a saved state', () => {
  it.each<[unknown, string]>([
    ['microvm-machine', 'microvm'],
    ['pc-i440fx-7.2-machine', 'pc'],
    ['pc-q35-7.2-machine', 'pc'],
    [undefined, 'pc'],
    [42, 'pc'],
  ])('QOM type %j → %s', (type, machine) => expect(machineOfType(type)).toBe(machine));

  // The first bytes of states QEMU 7.2 wrote (migrate to exec:cat), as `od -An -v -tx1` prints them.
  const od = (b: Buffer): string => [...b].map((x, i) => `${i % 16 === 0 ? '\n' : ' '}${x.toString(16).padStart(2, '0')}`).join('');
  const head = (name: string): Buffer => Buffer.concat([Buffer.from('QEVM\0\0\0\x03\x07', 'latin1'), Buffer.from([0, 0, 0, name.length]), Buffer.from(`${name}\x01\0\0\0\x02\x03ram`, 'latin1')]);
  it.each<[string, Buffer, string | undefined]>([
    ['a microvm state', head('microvm'), 'microvm'],
    ['a pc state', head('pc-i440fx-7.2'), 'pc'],
    ['an empty file', Buffer.alloc(0), undefined],
    ['not a migration stream', Buffer.from('hello world, this is not QEMU'), undefined],
    ['a name longer than the head', (() => { const b = head('microvm'); b.writeUInt32BE(40, 9); return b; })(), undefined],
    ['another section first', (() => { const b = head('microvm'); b[8] = 0x01; return b; })(), undefined],
  ])('the state head of %s → %s', (_label, bytes, machine) => expect(machineOfStateHead(od(bytes))).toBe(machine));
});
