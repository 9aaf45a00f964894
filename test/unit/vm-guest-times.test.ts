import { describe, expect, it } from 'vitest';
import { GUEST_TIMES_MARKER, guestTimesNote, parseGuestTimes, READY_MARKER, readyNote } from '../../main/vm/serial.js';
import { renderTinyInit } from '../../main/images/tinyInit.js';

describe('the tiny guest’s stage times on its console', () => {
  it.each<[string, string, ReturnType<typeof parseGuestTimes>]>([
    ['every stage', 'vlx-guest-times init=0.84 net=0.95 shared=1.30 ready=1.35\r\n', { init: 0.84, net: 0.95, shared: 1.3, ready: 1.35 }],
    ['no shared storage', 'vlx-guest-times init=0.84 net=0.95 shared=- ready=1.01\n', { init: 0.84, net: 0.95, ready: 1.01 }],
    ['the last of two boots (a reboot on the same console)', 'vlx-guest-times init=1.00 net=1.10 shared=- ready=1.20\nvlx-guest-times init=2.00 net=2.10 shared=- ready=2.20\n',
      { init: 2, net: 2.1, ready: 2.2 }],
    ['among kernel lines', '[    0.8] x\r\nvlx-guest-times init=0.84 net=0.95 shared=- ready=1.01\r\nvlx-guest-ready vm1 10.0.0.1\r\n', { init: 0.84, net: 0.95, ready: 1.01 }],
    ['none (another guest)', 'vlx-guest-ready vm1 10.0.0.1\n', undefined],
    ['a mangled line', 'vlx-guest-times init=abc net=0.95 shared=- ready=1.01\n', undefined],
    ['a stage missing', 'vlx-guest-times init=0.84 shared=- ready=1.01\n', undefined],
  ])('%s', (_label, out, times) => expect(parseGuestTimes(out)).toEqual(times));

  it('reads as one log phrase, with the shared stage only when there was one', () => {
    expect(guestTimesNote({ init: 0.84, net: 0.95, shared: 1.3, ready: 1.35 })).toBe('guest clock: init 0.84 s, network 0.95 s, shared mounted 1.30 s, ready 1.35 s');
    expect(guestTimesNote({ init: 0.84, net: 0.95, ready: 1.01 })).toBe('guest clock: init 0.84 s, network 0.95 s, ready 1.01 s');
    expect(readyNote('vlx-guest-times init=0.84 net=0.95 shared=- ready=1.01\r\nvlx-guest-ready vm1 none\r\n')).toBe('guest ready; guest clock: init 0.84 s, network 0.95 s, ready 1.01 s');
    expect(readyNote('vlx-guest-ready vm1 none\r\n')).toBe('guest ready');
  });

  it('is printed by the init, before the readiness marker', () => {
    const init = renderTinyInit({ bootModules: ['virtio_net.ko'], nfsModules: ['nfs.ko'] });
    const times = init.indexOf(`echo "${GUEST_TIMES_MARKER} init=$T_INIT net=$T_NET shared=$T_SHARED ready=`);
    expect(times).toBeGreaterThan(0);
    expect(init.indexOf(`echo "${READY_MARKER} `)).toBeGreaterThan(times);
    for (const v of ['T_INIT', 'T_NET', 'T_SHARED']) expect(init).toMatch(new RegExp(`read ${v} _ < /proc/uptime`));
  });

  it('loads the PCI transport only where PCI devices are, after the virtio core it needs', () => {
    const init = renderTinyInit({ bootModules: ['virtio_pci_modern_dev.ko', 'virtio_ring.ko', 'virtio.ko', 'virtio_pci.ko', 'virtio_mmio.ko', 'virtio_net.ko'], nfsModules: [] });
    const pci = /loadpci\(\) \{\n([^}]*)\}/.exec(init)?.[1] ?? '';
    expect(pci).toContain('virtio_pci_modern_dev.ko');
    expect(pci).toContain('virtio_pci.ko');
    expect(pci).not.toContain('virtio_ring.ko');
    const load = /\nload\(\) \{\n([^}]*)\}/.exec(init)?.[1] ?? '';
    expect(load).toContain('virtio_ring.ko');
    expect(load).not.toContain('virtio_pci');
    expect(init.indexOf('\nload\n')).toBeLessThan(init.indexOf('&& loadpci'));
    expect(init).toContain('set -- /sys/bus/pci/devices/*\n[ -e "$1" ] && loadpci');
  });
});
