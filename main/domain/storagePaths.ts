import { posix } from 'node:path';
import { invalid } from '../errors.js';
import { SHARED_ROOT } from './nodePaths.js';
import { checkInt, checkName } from '../util/names.js';

/**
 * Where everything lives on shared storage (DESIGN.md, Storage), from one root that is
 * mounted at the same path on every node. Every name is checked before it becomes part of
 * a path, so no path here can climb out of the root or carry shell syntax.
 */
export interface ImagePaths {
  /** The read-only template: the backing file of every VM disk made from it. */
  disk: string;
  /** Kernel, initrd and metadata of images that boot a kernel directly (e.g. tiny). */
  kernel: string;
  initrd: string;
  meta: string;
}

export interface VmVolumePaths {
  disk: string;
  swap: string;
  state: string;
  /**
   * A save writes here and renames to `state` when QEMU reports completion, so a save
   * killed half-way never leaves a truncated state that a restore would trust.
   */
  statePart: string;
  /** The per-VM NoCloud seed of guests that read one (cloud-init): network, hostname, keys, mounts. */
  seed: string;
}

export interface StoragePaths {
  root: string;
  manifest: string;
  imagesDir: string;
  image(image: string): ImagePaths;
  vcRoot: string;
  vcDir(vc: string): string;
  vcShared(vc: string): string;
  vm(vc: string, vm: string): VmVolumePaths;
  /** Where VC snapshots keep their files: overlays numbered per VC, RAM states per tag. */
  snapshotDir(vc: string): string;
  /** The overlay number `gen` of a VM's disk (a VM writes to one at a time; frozen ones belong to snapshots). */
  snapshotOverlay(vc: string, vm: string, gen: number): string;
  /** The RAM and device state of a VM in a snapshot taken with memory. */
  snapshotState(vc: string, tag: string, vm: string): string;
  /** Where warm-start templates live (main/vm/warmStart.ts), beside the images. */
  warmDir: string;
  /** A warm-start template's saved booted state: per image and machine shape, by its key. */
  warmState(image: string, key: string): string;
  clusterDir(container: string): string;
  clusterOriginal(container: string): string;
  nodeRoot(container: string, node: number): string;
  nodeSwap(container: string, node: number): string;
  clusterShared(container: string): string;
}

/** Absolute, no empty/./.. segments, and only characters no shell or QEMU option reads. */
const ROOT = /^(\/[A-Za-z0-9_][A-Za-z0-9._-]*)+$/;
const NODE_MAX = 9999;

export function checkStorageRoot(root: unknown): string {
  if (typeof root !== 'string' || !ROOT.test(root) || root.split('/').some((s) => s === '..' || s === '.')) {
    throw invalid('shared storage root', 'must be an absolute path of letters, digits, ".", "_" and "-" segments without "." or ".."', root);
  }
  return root;
}

export function storagePaths(root: string = SHARED_ROOT): StoragePaths {
  checkStorageRoot(root);
  const j = posix.join;
  const imagesDir = j(root, 'images');
  const vcRoot = j(root, 'vc');
  const clusterRoot = j(root, 'cluster');
  const vcDir = (vc: string) => j(vcRoot, checkName('vc', vc, 'VC name'));
  const clusterDir = (c: string) => j(clusterRoot, checkName('cluster', c, 'cluster container'));
  const nodeN = (n: number) => checkInt(n, 'node number', 1, NODE_MAX);
  const warmDir = j(imagesDir, 'warm');
  return {
    root,
    manifest: j(root, 'manifest.json'),
    imagesDir,
    image(image) {
      const base = j(imagesDir, checkName('image', image, 'image name'));
      return { disk: `${base}.qcow2`, kernel: `${base}.kernel`, initrd: `${base}.initrd`, meta: `${base}.json` };
    },
    vcRoot,
    vcDir,
    vcShared: (vc) => j(vcDir(vc), 'shared'),
    vm(vc, vm) {
      const base = j(vcDir(vc), checkName('vm', vm, 'VM name'));
      return { disk: `${base}.qcow2`, swap: `${base}.swap.qcow2`, state: `${base}.state`, statePart: `${base}.state.part`, seed: `${base}.seed.img` };
    },
    snapshotDir: (vc) => j(vcDir(vc), 'snap'),
    snapshotOverlay: (vc, vm, gen) => j(vcDir(vc), 'snap', `${checkName('vm', vm, 'VM name')}.${checkInt(gen, 'overlay number', 1, 1e9)}.qcow2`),
    snapshotState: (vc, tag, vm) => j(vcDir(vc), 'snap', checkName('tag', tag, 'tag'), `${checkName('vm', vm, 'VM name')}.state`),
    warmDir,
    warmState: (image, key) => {
      if (!/^[0-9a-f]{16}$/.test(key)) throw invalid('warm template key', 'must be 16 lowercase hex digits', key);
      return j(warmDir, `${checkName('image', image, 'image name')}.${key}.state`);
    },
    clusterDir,
    clusterOriginal: (c) => j(clusterDir(c), 'original.qcow2'),
    nodeRoot: (c, n) => j(clusterDir(c), `node${nodeN(n)}.qcow2`),
    nodeSwap: (c, n) => j(clusterDir(c), `node${nodeN(n)}.swap`),
    clusterShared: (c) => j(clusterDir(c), 'shared'),
  };
}
