import { join } from 'node:path';
import { z } from 'zod';
import { SHARED_ROOT } from '../config/paths.js';
import { checkName } from '../util/names.js';

/**
 * images/<name>.json on shared storage, next to the image's files. `kind` says how a VM
 * boots it: 'kernel' = QEMU loads images/<name>.kernel + .initrd with `cmdline` (the disk
 * is then an empty template for a per-VM overlay); 'disk' = the qcow2 boots by itself.
 */
export const ImageMetaSchema = z.object({
  name: z.string(),
  kind: z.enum(['kernel', 'disk']),
  guest: z.enum(['busybox', 'debian', 'imported']),
  /** Kernel images: the base command line; the VC layer appends root=, vlx.* parameters. */
  cmdline: z.string().optional(),
  /** Whether a VM needs a per-VM NoCloud seed volume (network, hostname, host keys). */
  seed: z.enum(['nocloud']).optional(),
  /** The guest's root device when it has one (root=... is part of cmdline too). */
  rootDevice: z.string().optional(),
  createdAt: z.string(),
  sizes: z.object({
    kernel: z.number().optional(),
    initrd: z.number().optional(),
    qcow2: z.number(),
    /** The disk's virtual size: a VM's overlay is at least this big. */
    qcow2Virtual: z.number(),
  }),
  /** Hash of everything the build used; equal hashes mean the built files are equal. */
  inputs: z.string(),
  kernelRelease: z.string().optional(),
  /**
   * The QEMU machine the guest is built for (main/vm/machine.ts decides): 'microvm' only for
   * a kernel whose initramfs loads the virtio-mmio transport; absent means 'pc', which every
   * image built before the field existed needs.
   */
  machine: z.enum(['pc', 'microvm']).optional(),
  /**
   * The initramfs can boot as a warm-start template (`vlx.warm=1`, images/tinyInit.ts): VMs
   * of it then start from a saved booted state (main/vm/warmStart.ts). Absent for images
   * built before, which always boot in full.
   */
  warm: z.boolean().optional(),
});
export type ImageMeta = z.infer<typeof ImageMetaSchema>;

export interface ImagePaths {
  dir: string;
  kernel: string;
  initrd: string;
  qcow2: string;
  json: string;
}

/** An image's files in a directory: images/ on shared storage, or a local build directory. */
export function imagePaths(name: string, dir: string = sharedImagesDir()): ImagePaths {
  checkName('image', name);
  return {
    dir,
    kernel: join(dir, `${name}.kernel`),
    initrd: join(dir, `${name}.initrd`),
    qcow2: join(dir, `${name}.qcow2`),
    json: join(dir, `${name}.json`),
  };
}

export function sharedImagesDir(root: string = SHARED_ROOT): string {
  return join(root, 'images');
}
