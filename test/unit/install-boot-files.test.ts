import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { validateInstallConfig, type InstallPlan } from '../../main/domain/installConfig.js';
import { renderInstallExample } from '../../main/domain/installExample.js';
import { nodeKernelArgs, renderBootScript, renderNodeEntry, tftpLayout } from '../../main/domain/bootFiles.js';
import { parseBootLine } from '../../main/domain/bootLine.js';
import { CONFIG_DIR, nodeConfigFiles, renderApplyConfigHook } from '../../main/domain/nodeConfig.js';
import { nodeConfigArchive, bootEntryFiles } from '../../main/install/bootFiles.js';
import { parseFacts, parseImagesFact, renderPreflightScript, renderStorageScript, renderWriteFilesScript } from '../../main/install/scripts.js';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { storagePaths } from '../../main/domain/storagePaths.js';
import { Manifest } from '../../main/domain/manifest.js';
import { withInstall } from '../../main/workflows/install.js';
import { planPublic } from '../../main/node-services/publicSide.js';

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx0ZXN0a2V5Zm9ydGhlaW5zdGFsbHRhYmxlMDAwMDAw admin@ws';
const HOST_KEYS = { ed25519: '-----BEGIN OPENSSH PRIVATE KEY-----\nx\n-----END OPENSSH PRIVATE KEY-----\n', ed25519Pub: 'ssh-ed25519 AAAAx node2\n' };

function examplePlan(): InstallPlan {
  const v = validateInstallConfig(parse(renderInstallExample({ sshKey: KEY })));
  if (!v.ok) throw new Error(JSON.stringify(v.errors));
  return v.plan;
}

describe('the example config', () => {
  it('is valid as printed and installs 3 nodes at free lab addresses', () => {
    const p = examplePlan();
    expect(p.nodes.map((n) => [n.hostname, n.bootIp, n.mac])).toEqual([
      ['dl1', '10.77.0.101', '52:54:4d:00:01:01'], ['dl2', '10.77.0.102', '52:54:4d:00:01:02'], ['dl3', '10.77.0.103', '52:54:4d:00:01:03'],
    ]);
    expect(validateInstallConfig(parse(renderInstallExample())).ok).toBe(false);
  });
});

describe('boot files', () => {
  it('one entry per MAC: the node\'s boot line (parsable), its kernel, initrd and config archive', () => {
    const p = examplePlan();
    const n = p.nodes[1]!;
    const entry = renderNodeEntry(p, n, 'console=ttyS0 net.ifnames=0 rw quiet root=/dev/vda');
    const kernel = entry.split('\n').find((l) => l.startsWith('kernel '))!;
    expect(kernel).toBe('kernel /lab/vmlinuz console=ttyS0 net.ifnames=0 rw quiet BOOTIF=01-52-54-4d-00-01-02 storage_ip=10.77.0.252 storage_port=10809 sifip=10.77.0.102 sifnm=255.255.255.0 sifm=e1000 ivid=lab-node2 root=/dev/nbd0 ---');
    const line = parseBootLine(kernel.slice('kernel /lab/vmlinuz '.length));
    expect(line.params).toMatchObject({ ivid: 'lab-node2', root: '/dev/nbd0', storage_ip: '10.77.0.252' });
    expect(entry).toContain('initrd /lab/initrd.img\ninitrd /lab/node2.cpio\nboot\n');
    expect(tftpLayout('lab').nodeEntry('52:54:4D:00:01:02')).toBe('nodes/52-54-4d-00-01-02.ipxe');
    expect(renderBootScript()).toContain('chain nodes/${mac:hexhyp}.ipxe || shell');
    expect(bootEntryFiles(p).map((f) => f.path)).toEqual([
      '/srv/virtualinux/tftp/boot.ipxe', ...p.nodes.map((x) => `/srv/virtualinux/tftp/nodes/${x.mac.replace(/:/g, '-')}.ipxe`),
    ]);
    expect(nodeKernelArgs(n, 'ivid=x --- BOOTIF=old quiet')).toEqual(['quiet', 'BOOTIF=01-52-54-4d-00-01-02']);
  });

  it('the config archive is reproducible and carries the node\'s identity under CONFIG_DIR', () => {
    const p = examplePlan();
    const a = nodeConfigArchive(p, p.nodes[1]!, HOST_KEYS);
    expect(nodeConfigArchive(p, p.nodes[1]!, HOST_KEYS).equals(a)).toBe(true);
    const text = a.toString('latin1');
    for (const f of ['etc/hostname', 'etc/hosts', 'etc/ssh/ssh_host_ed25519_key', 'root/.ssh/authorized_keys']) expect(text).toContain(`${CONFIG_DIR}/${f}`);
    const files = Object.fromEntries(nodeConfigFiles(p, p.nodes[1]!, HOST_KEYS).map((f) => [f.path, f]));
    expect(files['etc/hostname']!.text).toBe('dl2\n');
    expect(files['etc/hosts']!.text).toContain('10.77.0.103 dl3.lab.virtualinux dl3');
    expect(files['etc/ssh/ssh_host_ed25519_key']!.mode).toBe(0o600);
    expect(files['root/.ssh/authorized_keys']!.text).toBe(`${KEY}\n`);
    expect(renderApplyConfigHook()).toContain(`cp -a /${CONFIG_DIR}/. "\${rootmnt:-/root}/"`);
  });
});

describe('storage and file scripts', () => {
  it('makes all missing roots with one qemu-img and one tee, whatever the count', () => {
    const s = renderStorageScript({ paths: storagePaths('/srv/x'), container: 'lab', baseImage: 'debian-12-node', rootMb: 5120, swapMb: 2048, ordinals: Array.from({ length: 32 }, (_, i) => i + 1) });
    expect(s.match(/qemu-img create/g)).toHaveLength(1);
    expect(s.match(/tee \$roots/g)).toHaveLength(1);
    expect(s).toContain("[ -e /srv/x/cluster/lab/node32.qcow2 ] || { roots=\"$roots \"/srv/x/cluster/lab/.new/node32.qcow2; made=$((made+1)); need=1; }");
    expect(s).toContain('cp --reflink=auto --sparse=always /srv/x/images/debian-12-node.qcow2 /srv/x/cluster/lab/.new/original.qcow2');
  });

  it('writes a file only where its content differs, and refuses paths that climb out', () => {
    const s = renderWriteFilesScript([{ path: '/srv/x/tftp/a.ipxe', data: Buffer.from('hi\n') }]);
    expect(s).toContain('if cmp -s "$scratch/0" /srv/x/tftp/a.ipxe; then k=$((k+1)); else');
    expect(() => renderWriteFilesScript([{ path: '/srv/x/../etc/passwd', data: Buffer.from('') }])).toThrow(/bad path/);
    expect(() => renderWriteFilesScript([{ path: '/srv/x/a b', data: Buffer.from('') }])).toThrow(/bad path/);
  });
});

describe('the preflight script, run by sh on a directory like shared storage', () => {
  it('lists each image with whether it has a kernel and initrd to boot a node', () => {
    const root = mkdtempSync(join(tmpdir(), 'vlx-preflight-'));
    try {
      const run = () => execFileSync('sh', ['-e'], { input: renderPreflightScript(storagePaths(root)), encoding: 'utf8' });
      expect(parseImagesFact(run())).toEqual([]);
      mkdirSync(join(root, 'images'));
      for (const f of ['node.qcow2', 'node.kernel', 'node.initrd', 'plain.qcow2', 'plain.kernel', 'stray.initrd']) writeFileSync(join(root, 'images', f), 'x');
      const out = run();
      expect(parseFacts(out).writable).toBe('yes');
      expect(parseImagesFact(out)).toEqual([{ name: 'node', bootable: true }, { name: 'plain', bootable: false }]);
      // A script that stopped before its last line says nothing about images (not "none").
      expect(parseImagesFact('mounted yes\n')).toBeUndefined();
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('the manifest an install writes', () => {
  const base = { version: 1, name: 'lab', clusterNetwork: '10.77.0.0/24', nodes: [{ name: 'n1', address: '10.77.0.1', cores: 4, memMb: 8192 }], gateway: { vip: '10.77.0.250' } };

  it('carries the config\'s public side into the gateway, keeping what the gateway had', () => {
    const plan = examplePlan();
    const withPublic = { ...plan, config: { ...plan.config, gateway: { ...plan.config.gateway, public: { ip: '203.0.113.2', netmask: '255.255.255.0', router: '203.0.113.1' } } } };
    const m = Manifest.parse(withInstall(Manifest.parse(base), withPublic));
    expect(m.gateway).toEqual({ vip: '10.77.0.250', public: { ip: '203.0.113.2', netmask: '255.255.255.0', router: '203.0.113.1' } });
    // What the node services then make of it is valid: the plan of the public side accepts it.
    expect(() => planPublic(m.gateway!.public!, [])).not.toThrow();
  });

  it('leaves the gateway as it was when the config has no public side', () => {
    const plan = examplePlan();
    expect(plan.config.gateway.public).toBeUndefined();
    expect(Manifest.parse(withInstall(Manifest.parse(base), plan)).gateway).toEqual({ vip: '10.77.0.250' });
  });
});
