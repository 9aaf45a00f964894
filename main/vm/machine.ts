import type { ImageMeta } from '../images/types.js';
import type { AccelArgs } from './qemuArgs.js';

/**
 * Which QEMU machine a VM gets: the one rule, by what its image declares.
 *
 * - `microvm` (virtio-mmio devices, no PCI bus, no ACPI tables to walk for PCI, a minimal
 *   firmware) for a kernel-boot image built for it: its initramfs loads virtio_mmio. Under
 *   TCG it boots the tiny guest in well under the `pc` machine's CPU time.
 * - `pc` for everything else: disk images (imported cloud images, the Debian guest) boot
 *   through SeaBIOS from a PCI disk, and kernel images built before the field existed have no
 *   virtio_mmio driver.
 *
 * microvm has no HPET and no ACPI PM timer. Under TCG on a loaded node the kernel's TSC
 * calibration against the PIT then fails and the boot stalls for good (LAB-NOTES), so an
 * emulated microvm guest is told the TSC rate: under TCG the guest reads the host's TSC.
 * Without a known rate the VM falls back to `pc`, which calibrates against its HPET.
 * Under KVM the guest has kvmclock and needs nothing.
 */
export type Machine = 'pc' | 'microvm';

export interface MachineChoice {
  machine: Machine;
  /** Kernel parameters the machine needs, appended to the image's command line. */
  append: string[];
}

export function machineFor(image: Pick<ImageMeta, 'kind' | 'machine'>, accel: AccelArgs, hostTscKhz?: number): MachineChoice {
  if (image.kind !== 'kernel' || image.machine !== 'microvm') return { machine: 'pc', append: [] };
  if (accel.accel === 'kvm') return { machine: 'microvm', append: [] };
  if (hostTscKhz === undefined || !Number.isInteger(hostTscKhz) || hostTscKhz < 100_000 || hostTscKhz > 20_000_000) return { machine: 'pc', append: [] };
  return { machine: 'microvm', append: [`tsc_early_khz=${hostTscKhz}`] };
}

/**
 * The host's TSC rate in kHz from what a node prints for `TSC_PROBE`: the kernel's refined
 * calibration when its log still has it, else /proc/cpuinfo's "cpu MHz" (equal to the TSC on
 * hosts without frequency scaling, such as cloud VMs; elsewhere a guest clock that drifts,
 * the price of TCG without a timer reference). undefined when neither is there.
 */
export function parseTscKhz(out: string): number | undefined {
  const refined = /Refined TSC clocksource calibration: (\d+(?:\.\d+)?) MHz/.exec(out) ?? /tsc: Detected (\d+(?:\.\d+)?) MHz processor/.exec(out);
  const m = refined ?? /^cpu MHz\s*:\s*(\d+(?:\.\d+)?)\s*$/m.exec(out);
  if (!m) return undefined;
  const khz = Math.round(Number(m[1]) * 1000);
  return khz >= 100_000 && khz <= 20_000_000 ? khz : undefined;
}

/** Prints what parseTscKhz reads: the kernel log's TSC lines (root only; empty otherwise), then the first CPU's MHz. */
export const TSC_PROBE = `{ dmesg 2>/dev/null | grep -m2 -E 'Refined TSC clocksource calibration|tsc: Detected'; grep -m1 '^cpu MHz' /proc/cpuinfo; } || true`;
