import { describe, expect, it } from 'vitest';
import { outcome } from '../support/outcome.js';
import { checkStorageRoot, storagePaths } from '../../main/domain/storagePaths.js';


describe('storagePaths', () => {
  const s = storagePaths();
  it.each([
    ['root', s.root, '/srv/virtualinux'],
    ['manifest', s.manifest, '/srv/virtualinux/manifest.json'],
    ['images dir', s.imagesDir, '/srv/virtualinux/images'],
    ['vc root', s.vcRoot, '/srv/virtualinux/vc'],
    ['vc dir', s.vcDir('web'), '/srv/virtualinux/vc/web'],
    ['vc shared', s.vcShared('web'), '/srv/virtualinux/vc/web/shared'],
    ['cluster dir', s.clusterDir('main'), '/srv/virtualinux/cluster/main'],
    ['cluster original', s.clusterOriginal('main'), '/srv/virtualinux/cluster/main/original.qcow2'],
    ['node root', s.nodeRoot('main', 3), '/srv/virtualinux/cluster/main/node3.qcow2'],
    ['node swap', s.nodeSwap('main', 12), '/srv/virtualinux/cluster/main/node12.swap'],
    ['cluster shared', s.clusterShared('main'), '/srv/virtualinux/cluster/main/shared'],
  ])('%s', (_n, got, want) => {
    expect(got).toBe(want);
  });
  it('image files', () => {
    expect(s.image('debian-12')).toEqual({
      disk: '/srv/virtualinux/images/debian-12.qcow2',
      kernel: '/srv/virtualinux/images/debian-12.kernel',
      initrd: '/srv/virtualinux/images/debian-12.initrd',
      meta: '/srv/virtualinux/images/debian-12.json',
    });
  });
  it('VM volumes', () => {
    expect(s.vm('web', 'vm3')).toEqual({
      disk: '/srv/virtualinux/vc/web/vm3.qcow2',
      swap: '/srv/virtualinux/vc/web/vm3.swap.qcow2',
      state: '/srv/virtualinux/vc/web/vm3.state',
      statePart: '/srv/virtualinux/vc/web/vm3.state.part',
      seed: '/srv/virtualinux/vc/web/vm3.seed.img',
    });
  });
  it('another root (e.g. a lab directory)', () => {
    const lab = storagePaths('/var/lib/vlx-lab/shared');
    expect(lab.vm('a', 'vm1').disk).toBe('/var/lib/vlx-lab/shared/vc/a/vm1.qcow2');
    expect(lab.image('tiny').disk).toBe('/var/lib/vlx-lab/shared/images/tiny.qcow2');
  });
  it.each([
    ['VC with ..', () => s.vcDir('..'), 'VC name'],
    ['VC with a slash', () => s.vm('a/b', 'vm1'), 'VC name'],
    ['VM with a quote', () => s.vm('web', "vm1'"), 'VM name'],
    ['VM with ..', () => s.vm('web', '../x'), 'VM name'],
    ['image starting with a dot', () => s.image('.hidden'), 'image name'],
    ['image with a slash', () => s.image('a/b'), 'image name'],
    ['cluster with a space', () => s.clusterDir('a b'), 'cluster container'],
    ['node 0', () => s.nodeRoot('main', 0), 'node number'],
    ['node 1.5', () => s.nodeSwap('main', 1.5), 'node number'],
    ['shared of a bad VC', () => s.vcShared('$(x)'), 'VC name'],
  ])('refuses %s', (_n, fn, field) => {
    expect(outcome(fn)).toMatchObject({ code: 'invalid-input', message: expect.stringMatching(new RegExp(`^${field}: `)) });
  });
});

describe('checkStorageRoot', () => {
  it.each(['/srv/virtualinux', '/a', '/var/lib/vlx-lab/shared', '/mnt/san_1/v.2'])('accepts %s', (root) => {
    expect(checkStorageRoot(root)).toBe(root);
  });
  it.each(['', '/', 'srv/virtualinux', '/srv/../etc', '/srv/./x', '/srv//x', '/srv/x/', '/srv/a b', "/srv/it's", '/srv/$(id)', '/srv/.x/..'])(
    'refuses %j', (root) => {
      expect(outcome(() => storagePaths(root))).toMatchObject({ code: 'invalid-input', message: expect.stringMatching(/^shared storage root: /) });
    });
});
