import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VlxError } from '../../main/errors.js';
import { importImage, inspectImport } from '../../main/images/importImage.js';
import { imageInfo, listImages, publishImage, uploadFile, volumesUsing } from '../../main/images/library.js';
import { localRunner } from '../../main/images/local.js';
import { renderMetaData, renderNetworkConfig, renderUserData, seedCommand, type SeedInput } from '../../main/images/nocloud.js';
import { buildTiny, TINY_BOOT_MODULES, TINY_CMDLINE, type BuiltImage } from '../../main/images/tiny.js';
import { SHARED_ROOT } from '../../main/config/paths.js';
import { openCurrentCluster } from '../../main/cluster/session.js';
import { sh } from '../../main/util/quote.js';
import { KVM_CACHE, probeKvm, probeNodeKvm, type KvmVerdict } from '../../main/vm/kvmProbe.js';
import { qemuArgs } from '../../main/vm/qemuArgs.js';
import { QmpClient, systemPowerdown } from '../../main/vm/qmp.js';
import { READY_MARKER, SerialConsole } from '../../main/vm/serial.js';
import { unixSocket } from '../support/unixSocket.js';


const run = localRunner();
const work = mkdtempSync(join(tmpdir(), 'vlximg-'));
const root = join(work, 'shared');
let tiny: BuiltImage;

async function caught(p: Promise<unknown>): Promise<VlxError> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  expect(e).toBeInstanceOf(VlxError);
  return e as VlxError;
}

beforeAll(async () => {
  mkdirSync(root, { recursive: true });
  tiny = await buildTiny();
}, 600_000);

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('tiny image build', () => {
  it('is cached: a second build with the same inputs rebuilds nothing and returns the same files', async () => {
    const again = await buildTiny();
    expect(again.rebuilt).toBe(false);
    expect(again.meta).toEqual(tiny.meta);
    expect(statSync(again.files.initrd).mtimeMs).toBe(statSync(tiny.files.initrd).mtimeMs);
  });

  it('has the metadata the VC layer reads, and an initramfs with busybox, /init, a console and the virtio modules', () => {
    expect(tiny.meta).toMatchObject({ name: 'tiny', kind: 'kernel', guest: 'busybox', cmdline: TINY_CMDLINE, machine: 'microvm' });
    expect(TINY_CMDLINE).toMatch(/^console=ttyS0 quiet /);
    // The kernel is the uncompressed ELF QEMU boots through its PVH entry.
    expect(execFileSync('head', ['-c', '4', tiny.files.kernel]).toString('latin1')).toBe('\x7fELF');
    // An uncompressed cpio (inflating it would cost every TCG boot more than copying it costs QEMU).
    expect(tiny.meta.sizes.initrd).toBeLessThan(8 * 1024 * 1024);
    expect(tiny.meta.sizes.kernel).toBe(statSync(tiny.files.kernel).size);
    const listing = execFileSync('sh', ['-c', `cpio -it --quiet < ${sh(tiny.files.initrd)}`], { encoding: 'utf8' }).split('\n');
    for (const f of ['init', 'bin/busybox', 'dev/console', 'etc/inittab', 'etc/acpi/PWRF/00000080', 'lib/modules/virtio_pci.ko', 'lib/modules/nfsv3.ko']) {
      expect(listing).toContain(f);
    }
    for (const m of TINY_BOOT_MODULES) expect(listing).toContain(`lib/modules/${m}.ko`);
    const info = JSON.parse(execFileSync('qemu-img', ['info', '--output=json', tiny.files.qcow2], { encoding: 'utf8' }));
    expect(info).toMatchObject({ format: 'qcow2', 'virtual-size': tiny.meta.sizes.qcow2Virtual });
  });
});

describe('image library on shared storage (through the workstation runner)', () => {
  it('publishes read-only files, lists them, and knows when it is up to date', async () => {
    expect(await publishImage(run, tiny, { root })).toEqual({ status: 'published', name: 'tiny', replaced: false });
    for (const ext of ['kernel', 'initrd', 'qcow2', 'json']) {
      expect(statSync(join(root, 'images', `tiny.${ext}`)).mode & 0o777).toBe(0o444);
    }
    const list = await listImages(run, root);
    expect(list.map((e) => e.name)).toEqual(['tiny']);
    expect(list[0].meta).toEqual(tiny.meta);
    expect(await publishImage(run, tiny, { root })).toEqual({ status: 'up-to-date', name: 'tiny', replaced: false });
  });

  it('refuses to replace a template that a volume is backed by, naming the volume, and replaces it once nothing is', async () => {
    const vol = join(root, 'vc', 'web', 'web-1.qcow2');
    mkdirSync(join(root, 'vc', 'web'), { recursive: true });
    await run.run(sh('qemu-img', 'create', '-q', '-f', 'qcow2', '-b', join(root, 'images', 'tiny.qcow2'), '-F', 'qcow2', vol));
    // An unrelated volume must not count.
    await run.run(sh('qemu-img', 'create', '-q', '-f', 'qcow2', join(root, 'vc', 'web', 'other.qcow2'), '1M'));
    expect(await volumesUsing(run, 'tiny', root)).toEqual([vol]);
    expect((await imageInfo(run, 'tiny', root)).usedBy).toEqual([vol]);

    const changed = { ...tiny, meta: { ...tiny.meta, inputs: 'something-else' } };
    const err = await caught(publishImage(run, changed, { root }));
    expect(err.code).toBe('conflict');
    expect(err.message).toBe('image tiny differs from the one on shared storage, which is the template of 1 volume(s) (vc/web/web-1.qcow2); a template in use is never rebuilt in place');
    expect(err.hint).toBe('build it under a new name (--name tiny-2), or destroy the VCs that use it first');

    rmSync(vol);
    expect(await publishImage(run, changed, { root })).toEqual({ status: 'published', name: 'tiny', replaced: true });
    expect((await listImages(run, root))[0].meta?.inputs).toBe('something-else');
  });

  it('lists an image with broken metadata with the problem named, not as an error', async () => {
    writeFileSync(join(root, 'images', 'broken.json'), '{ not json');
    const list = await listImages(run, root);
    expect(list.find((e) => e.name === 'broken')).toMatchObject({ name: 'broken', problem: expect.stringContaining('unreadable metadata') });
    rmSync(join(root, 'images', 'broken.json'));
  });

  it('uploads through stdin to a temporary name and renames', async () => {
    const src = join(work, 'payload.bin');
    const data = Buffer.alloc(3 * 1024 * 1024 + 7, 0xab);
    writeFileSync(src, data);
    await uploadFile(run, src, join(root, 'x', 'y', 'payload.bin'), { mode: '0400' });
    const st = statSync(join(root, 'x', 'y', 'payload.bin'));
    expect(st.size).toBe(data.length);
    expect(st.mode & 0o777).toBe(0o400);
    expect(execFileSync('ls', ['-a', join(root, 'x', 'y')], { encoding: 'utf8' }).trim().split('\n')).toEqual(['.', '..', 'payload.bin']);
  });
});

describe('image import', () => {
  it('imports a standalone qcow2 as a disk-boot image that reads a NoCloud seed', async () => {
    const file = join(work, 'cloud.qcow2');
    await run.run(sh('qemu-img', 'create', '-q', '-f', 'qcow2', file, '64M'));
    expect(await importImage(run, file, 'cloudy', { root })).toEqual({ status: 'published', name: 'cloudy', replaced: false });
    const meta = (await listImages(run, root)).find((e) => e.name === 'cloudy')?.meta;
    expect(meta).toMatchObject({ name: 'cloudy', kind: 'disk', guest: 'imported', seed: 'nocloud', sizes: { qcow2Virtual: 64 * 1024 * 1024 } });
    expect(await importImage(run, file, 'cloudy', { root })).toEqual({ status: 'up-to-date', name: 'cloudy', replaced: false });
  });

  it.each<[string, () => Promise<string>, string, string]>([
    ['a raw image', async () => { const f = join(work, 'disk.raw'); await run.run(sh('qemu-img', 'create', '-q', '-f', 'raw', f, '1M')); return f; }, 'invalid-input', 'file: must be a qcow2 image (got raw)'],
    ['an overlay', async () => {
      const b = join(work, 'base.qcow2');
      const f = join(work, 'overlay.qcow2');
      await run.run(`${sh('qemu-img', 'create', '-q', '-f', 'qcow2', b, '1M')} && ${sh('qemu-img', 'create', '-q', '-f', 'qcow2', '-b', b, '-F', 'qcow2', f)}`);
      return f;
    }, 'invalid-input', `file: must stand alone, but it is backed by ${join(work, 'base.qcow2')}`],
    ['a missing file', async () => join(work, 'nope.qcow2'), 'not-found', `file: ${join(work, 'nope.qcow2')} does not exist or is not a file`],
    ['a text file', async () => { const f = join(work, 'notes.qcow2'); writeFileSync(f, 'hello'); return f; }, 'invalid-input', 'file: must be a qcow2 image (got raw)'],
  ])('refuses %s', async (_l, make, code, message) => {
    const err = await caught(inspectImport(await make(), 'x'));
    expect(err.code).toBe(code);
    expect(err.message).toBe(message);
  });

  it('refuses a bad image name before touching the file', async () => {
    const err = await caught(inspectImport('/etc/passwd', 'Bad;name'));
    expect(err.message).toMatch(/^name: must be 1-64 chars/);
  });
});

describe('NoCloud seed', () => {
  const seed: SeedInput = {
    instanceId: 'web-web-1-1',
    hostname: 'web-1',
    mac: '52:54:00:c8:01:02',
    address: '10.200.1.2/24',
    gateway: '10.200.1.1',
    nameservers: ['10.77.0.254'],
    sshKeys: ['ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBRIghtHere vlx@workstation'],
  };

  it('renders meta-data, user-data and network-config', () => {
    expect(renderMetaData(seed)).toBe('instance-id: web-web-1-1\nlocal-hostname: web-1\n');
    expect(renderUserData(seed)).toContain('ssh_deletekeys: true\n');
    expect(renderUserData(seed)).toContain('ssh_authorized_keys:\n  - "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBRIghtHere vlx@workstation"\n');
    expect(renderNetworkConfig(seed)).toBe([
      'version: 2', 'ethernets:', '  vlx0:', '    match:', '      macaddress: "52:54:00:c8:01:02"', '    set-name: eth0',
      '    addresses: [10.200.1.2/24]', '    routes:', '      - to: 0.0.0.0/0', '        via: 10.200.1.1', '        on-link: true',
      '    nameservers:', '      addresses: [10.77.0.254]', '',
    ].join('\n'));
  });

  it.each<[Partial<SeedInput>, string]>([
    [{ hostname: 'web_1' }, 'hostname: must be'],
    [{ address: '10.200.1.2' }, 'address: must be IPv4/prefix'],
    [{ address: '10.200.1.2/33' }, 'address: must be IPv4/prefix'],
    [{ gateway: '10.200.1' }, 'gateway: must be an IPv4 address'],
    [{ mac: '01:00:5e:00:00:01' }, 'mac: must be a unicast address'],
    [{ instanceId: 'a b' }, 'instanceId: must be 1-64'],
    [{ sshKeys: ['ssh-ed25519 AAAA\nruncmd: [reboot]'] }, 'sshKeys: must be OpenSSH public keys'],
    [{ nameservers: ['dns.example'] }, 'nameservers: must be IPv4 addresses'],
  ])('refuses %j', (change, message) => {
    expect(() => renderNetworkConfig({ ...seed, ...change })).toThrow(message);
  });

  it('makes a FAT volume labelled CIDATA with the three files, without mounting anything', async () => {
    const out = join(work, 'seeds', 'web-1.seed');
    await run.run(seedCommand(out, seed));
    expect(execFileSync('mlabel', ['-s', '-i', out, '::'], { encoding: 'utf8' })).toContain('CIDATA');
    expect(execFileSync('mtype', ['-i', out, '::network-config'], { encoding: 'utf8' })).toBe(renderNetworkConfig(seed));
    expect(execFileSync('mtype', ['-i', out, '::meta-data'], { encoding: 'utf8' })).toBe(renderMetaData(seed));
    expect(execFileSync('ls', ['-a', join(work, 'seeds')], { encoding: 'utf8' }).trim().split('\n')).toEqual(['.', '..', 'web-1.seed']);
  });
});

describe('image library through SSH on the lab', () => {
  it('publishes tiny to the lab shared storage through one node and another node lists it', async () => {
    const session = openCurrentCluster();
    try {
      const n1 = await session.any();
      const b = session.nodes().find((n) => n.name !== n1.name);
      if (!b) throw new Error('the lab needs two nodes for this test');
      const n2 = await session.node(b.name);
      const r = await publishImage(n1, tiny);
      expect(['published', 'up-to-date']).toContain(r.status);
      const listed = (await listImages(n2)).find((e) => e.name === 'tiny');
      expect(listed?.meta?.inputs).toBe(tiny.meta.inputs);
      expect((await n2.run(sh('stat', '-c', '%a %s', join(SHARED_ROOT, 'images', 'tiny.kernel')))).trim()).toBe(`444 ${tiny.meta.sizes.kernel}`);
    } finally {
      await session.close();
    }
  });

  it('probes KVM on a node with the tiny image there, and leaves the verdict in that node\'s kvm.json', async () => {
    const session = openCurrentCluster();
    try {
      const conn = await session.any();
      await publishImage(conn, tiny);
      const v = await probeNodeKvm(conn, { force: true });
      expect(v.accel).toEqual(v.usable ? { accel: 'kvm', cpu: 'host' } : { accel: 'tcg', cpu: 'qemu64' });
      const onNode = JSON.parse(await conn.run(sh('cat', KVM_CACHE)));
      expect(onNode).toEqual({ usable: v.usable, checkedAt: v.checkedAt, reason: v.reason });
      expect((await probeNodeKvm(conn)).checkedAt).toBe(v.checkedAt);
      // No probe guest is left running.
      expect((await conn.exec(`pgrep -f ${sh('vlx[.]name=kvm-probe')}`)).code).toBe(1);
    } finally {
      await session.close();
    }
  });
});
