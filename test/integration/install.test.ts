// `vlx install` and `vlx restore` on the lab: the storage, configuration and boot files of a
// 3-node disk-less installation, re-run as a no-op, reset and rebuild; the storage step for 32.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { appPaths } from '../../main/config/paths.js';
import { getCluster } from '../../main/config/clusters.js';
import { openCluster, type SshClusterSession } from '../../main/ssh/session.js';
import { openClusterDb } from '../../main/db/client.js';
import { migrate } from '../../main/db/migrate.js';
import { stopServices } from '../../main/node-services/deploy.js';
import { validateInstallConfig } from '../../main/domain/installConfig.js';
import { storagePaths } from '../../main/domain/storagePaths.js';
import { renderStorageScript } from '../../main/install/scripts.js';
import { runOn } from '../../main/workflows/install.js';
import { labFiles, labSsh } from './support/lab.js';

const VLX = join(process.cwd(), 'bin/vlx');
const ROOT = '/srv/virtualinux';
const IMAGE = 'vlx-install-test';
const C = 'itest';
const MACS = ['52:54:4d:00:0e:01', '52:54:4d:00:0e:02', '52:54:4d:00:0e:03'];
const DIR = `${ROOT}/cluster/${C}`;
const TFTP = `${ROOT}/tftp`;
let home: string;
let work: string;
let session: SshClusterSession;
let manifestBefore: string;
let bootFileBefore: boolean;
let key: string;

interface Run { code: number; stdout: string; stderr: string }
function vlx(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(VLX, args, { env: { ...process.env, VLX_HOME: home } }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

async function vlxOk(args: string[]): Promise<Run> {
  const r = await vlx([...args, '--json']);
  if (r.code !== 0) throw new Error(`vlx ${args.join(' ')}: exit ${r.code}: ${r.stderr}`);
  return r;
}

async function sh(cmd: string): Promise<string> {
  const r = await labSsh('10.77.0.1', cmd, 10);
  if (r.code !== 0) throw new Error(`${cmd}: exit ${r.code}: ${r.stderr}`);
  return r.stdout;
}

function config(n = 3, first = 101, container = C): string {
  return [
    `baseImage: ${IMAGE}`,
    `container: ${container}`,
    'hostnamePrefix: it',
    'sizes: { rootMb: 512, swapMb: 16, sharedMb: 16 }',
    `network: { boot: { firstIp: 10.77.0.${first}, netmask: 255.255.255.0 }, storageIp: 10.77.0.252, modules: [e1000] }`,
    'gateway: { primary: 10.77.0.1, backup: 10.77.0.2, spare: 10.77.0.253 }',
    'nodes:',
    ...Array.from({ length: n }, (_, i) => `  - mac: 52:54:4d:00:0e:${(i + 1).toString(16).padStart(2, '0')}`),
    'sshKeys:',
    `  - ${key}`,
    '',
  ].join('\n');
}

/** Every file of the installation with its mtime: a no-op re-run leaves this list as it was. */
const mtimes = () => sh(`find ${DIR} ${TFTP}/${C} ${TFTP}/nodes ${TFTP}/boot.ipxe ${ROOT}/manifest.json -printf '%p %T@\\n' | sort`);

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'vlx-install-'));
  work = mkdtempSync(join(tmpdir(), 'vlx-install-work-'));
  copyFileSync(appPaths.clusters(), join(home, 'clusters.json'));
  copyFileSync(appPaths.knownHosts(), join(home, 'known_hosts'));
  key = readFileSync(`${labFiles().key}.pub`, 'utf8').trim();
  const cluster = getCluster('lab');
  session = openCluster(cluster);
  // A lab brought up by an older vlx has the database without the install's table.
  if (cluster.db) { const db = openClusterDb(cluster); try { await migrate(db); } finally { await db.close(); } }
  manifestBefore = await sh(`cat ${ROOT}/manifest.json`);
  // Services from a clean start (as the services and diskless suites do): the install deploys them.
  await stopServices(session);
  bootFileBefore = (await sh(`test -e ${TFTP}/boot.ipxe && echo yes || echo no`)).trim() === 'yes';
  // A stand-in base image: the storage and boot files need its files, nothing here boots it.
  await sh([
    `rm -rf ${DIR} ${ROOT}/cluster/${C}32 ${TFTP}/${C} ${MACS.map((m) => `${TFTP}/nodes/${m.replace(/:/g, '-')}.ipxe`).join(' ')}`,
    `qemu-img create -q -f qcow2 ${ROOT}/images/${IMAGE}.qcow2 64M`,
    `echo kernel > ${ROOT}/images/${IMAGE}.kernel`, `echo initrd > ${ROOT}/images/${IMAGE}.initrd`,
    `echo '{"name":"${IMAGE}","cmdline":"console=ttyS0 net.ifnames=0 rw root=/dev/vda"}' > ${ROOT}/images/${IMAGE}.json`,
  ].join(' && '));
}, 120_000);

afterAll(async () => {
  if (session) {
    await sh(`rm -rf ${DIR} ${ROOT}/cluster/${C}32 ${TFTP}/${C} ${ROOT}/images/${IMAGE}.* ${MACS.map((m) => `${TFTP}/nodes/${m.replace(/:/g, '-')}.ipxe`).join(' ')}`).catch(() => undefined);
    if (!bootFileBefore) await sh(`rm -f ${TFTP}/boot.ipxe; rmdir ${TFTP}/nodes 2>/dev/null || true`).catch(() => undefined);
    const f = join(work, 'manifest.json');
    writeFileSync(f, manifestBefore);
    await new Promise<void>((res) => execFile('sh', ['-c', `ssh -i ${labFiles().key} -o UserKnownHostsFile=${labFiles().knownHosts} -o BatchMode=yes root@10.77.0.1 'cat > ${ROOT}/manifest.json' < ${f}`], () => res()));
    await stopServices(session).catch(() => undefined);
    await session.close();
  }
  rmSync(home, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
}, 120_000);

describe('vlx install on the lab', () => {
  it('a config with a bad field is refused with its line, and nothing is written', async () => {
    const f = join(work, 'bad.yaml');
    writeFileSync(f, config().replace('52:54:4d:00:0e:03', '52:54:4d:00:0e:01'));
    const r = await vlx(['install', '--config', f]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${f}:10:10: nodes.2.mac: duplicates the MAC of nodes.0 (52:54:4d:00:0e:01)`);
    expect(await sh(`test -e ${DIR} && echo there || echo absent`)).toBe('absent\n');
  });

  it('installs 3 disk-less nodes: overlays of the original, config archives, boot entries, manifest', async () => {
    const f = join(work, 'cluster.yaml');
    writeFileSync(f, config());
    const r = await vlx(['install', '--config', f]);
    expect(r.code, r.stderr).toBe(0);
    for (const n of [1, 2, 3]) {
      const info = JSON.parse(await sh(`qemu-img info -U --output=json ${DIR}/node${n}.qcow2`)) as { 'backing-filename': string; 'virtual-size': number };
      expect(info['backing-filename']).toBe(`${DIR}/original.qcow2`);
      expect(info['virtual-size']).toBe(512 * 1024 * 1024);
    }
    const entry = await sh(`cat ${TFTP}/nodes/52-54-4d-00-0e-02.ipxe`);
    expect(entry).toContain(`kernel /${C}/vmlinuz console=ttyS0 net.ifnames=0 rw BOOTIF=01-52-54-4d-00-0e-02 storage_ip=10.77.0.252 storage_port=10809 sifip=10.77.0.102 sifnm=255.255.255.0 sifm=e1000 ivid=${C}-node2 root=/dev/nbd0 ---`);
    expect(entry).toContain(`initrd /${C}/node2.cpio`);
    expect(await sh(`cat ${TFTP}/boot.ipxe`)).toContain('chain nodes/${mac:hexhyp}.ipxe');
    // The manifest holds the config as given (defaults filled in) and each node as planned.
    const m = JSON.parse(await sh(`cat ${ROOT}/manifest.json`)) as { install: { container: string; config: unknown; nodes: { hostname: string; mac: string; ip: string }[] } };
    const v = validateInstallConfig((await import('yaml')).parse(config()));
    expect(v.ok).toBe(true);
    if (!v.ok) return;
    expect(m.install.config).toEqual(JSON.parse(JSON.stringify(v.plan.config)));
    expect(m.install.nodes.map((n) => [n.hostname, n.mac, n.ip])).toEqual([['it1', MACS[0], '10.77.0.101'], ['it2', MACS[1], '10.77.0.102'], ['it3', MACS[2], '10.77.0.103']]);
    // The DHCP map on a serving node has the new nodes.
    const conf = await sh('cat /etc/virtualinux/services/dnsmasq.conf');
    expect(conf).toContain(`dhcp-host=${MACS[1]},10.77.0.102,it2`);
    expect(conf).toContain('dhcp-boot=boot.ipxe');
    // The config archive carries the node's host name and its own host key.
    const cpio = await sh(`grep -a -o -e 'vlx-node/etc/hostname' -e 'it2' -e 'vlx-node/etc/ssh/ssh_host_ed25519_key' ${TFTP}/${C}/node2.cpio | sort -u`);
    expect(cpio.split('\n').filter(Boolean)).toEqual(['it2', 'vlx-node/etc/hostname', 'vlx-node/etc/ssh/ssh_host_ed25519_key']);
  });

  it('the volumes tree shows the original with each node\'s root under it', async () => {
    const tree = JSON.parse((await vlxOk(['vc', 'volumes'])).stdout) as { path: string; kind: string; usedBy?: string; children: { path: string; kind: string; usedBy?: string }[] }[];
    const original = tree.find((v) => v.kind === 'original');
    expect(original?.path).toBe(`${DIR}/original.qcow2`);
    expect(original?.children.map((c) => [c.kind, c.path, c.usedBy])).toEqual([1, 2, 3].map((n) => ['node-root', `${DIR}/node${n}.qcow2`, `it${n}`]));
  });

  it('a re-run is a no-op: no file is rewritten', async () => {
    const before = await mtimes();
    const r = await vlx(['install', '--config', join(work, 'cluster.yaml')]);
    expect(r.code, r.stderr).toBe(0);
    expect(await mtimes()).toBe(before);
  });

  it('--rebuild-config restores a deleted config file, byte for byte', async () => {
    const sum = await sh(`sha256sum ${TFTP}/${C}/node2.cpio ${TFTP}/nodes/52-54-4d-00-0e-02.ipxe`);
    await sh(`rm ${TFTP}/${C}/node2.cpio ${TFTP}/nodes/52-54-4d-00-0e-02.ipxe`);
    const r = await vlx(['restore', '--rebuild-config']);
    expect(r.code, r.stderr).toBe(0);
    expect(await sh(`sha256sum ${TFTP}/${C}/node2.cpio ${TFTP}/nodes/52-54-4d-00-0e-02.ipxe`)).toBe(sum);
  });

  it('--reset-node gives a new overlay: data written to it is gone, another node keeps its own', async () => {
    // The root server holds each overlay's write lock while it serves it: write the markers with it stopped.
    await stopServices(session);
    for (const n of [1, 2]) await sh(`qemu-io -c 'write -P 0x5a 0 64k' ${DIR}/node${n}.qcow2`);
    // qemu-io says "Pattern verification failed" (and exits 1) where the marker is not there.
    const has = async (n: number) => {
      const out = await sh(`qemu-io -c 'read -P 0x5a 0 64k' ${DIR}/node${n}.qcow2 2>&1 || true`);
      expect(out).toContain('read 65536/65536');
      return !out.includes('Pattern verification failed');
    };
    expect([await has(1), await has(2)]).toEqual([true, true]);
    const refused = await vlx(['restore', '--reset-node', '2']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain('needs a typed confirmation');
    const r = await vlx(['restore', '--reset-node', '2', '--yes']);
    expect(r.code, r.stderr).toBe(0);
    expect([await has(1), await has(2)]).toEqual([true, false]);
    const info = JSON.parse(await sh(`qemu-img info -U --output=json ${DIR}/node2.qcow2`)) as { 'backing-filename': string };
    expect(info['backing-filename']).toBe(`${DIR}/original.qcow2`);
  });

  it('automatic MAC gathering: three machines powered on in order are listed in that order', async () => {
    // Machines the map does not know: dnsmasq logs their DHCPDISCOVER and offers nothing.
    const names = ['itw1', 'itw2', 'itw3'];
    const macs = ['52:54:4d:00:0f:01', '52:54:4d:00:0f:02', '52:54:4d:00:0f:03'];
    // The reset above left the services stopped: no DHCP server logs anything, and the app says so.
    const stopped = await vlx(['install', 'macs', '--node', 'n1', '--since', '0']);
    expect(stopped.code).not.toBe(0);
    expect(stopped.stderr).toContain('n1: its DHCP server does not run');
    await vlxOk(['services', 'deploy']);
    const start = JSON.parse((await vlxOk(['install', 'macs', '--since', 'now'])).stdout) as { node: string; cursor: number };
    let cursor = start.cursor;
    const seen: string[] = [];
    try {
      for (const [i, name] of names.entries()) {
        await vlxOk(['lab', 'power-on', name, '--mac', macs[i]!]);
        for (let t = 0; t < 60 && seen.length < i + 1; t++) {
          await new Promise((r) => setTimeout(r, 1000));
          const r = JSON.parse((await vlxOk(['install', 'macs', '--node', start.node, '--since', String(cursor), '--known', ...(seen.length ? seen : ['-'])])).stdout) as { cursor: number; macs: string[] };
          cursor = r.cursor;
          seen.push(...r.macs);
        }
      }
    } finally {
      for (const name of names) await vlx(['lab', 'power-off', name]);
    }
    expect(seen).toEqual(macs);
  }, 240_000);

  it('the storage step for 32 nodes: one script, one round trip, every root and swap volume made (its time is printed, not asserted)', async () => {
    const v = validateInstallConfig((await import('yaml')).parse(config(32, 150, `${C}32`)));
    expect(v.ok).toBe(true);
    if (!v.ok) return;
    const conn = await session.any();
    // The original's copy is paid once per container, before: what is timed is the 32 roots.
    await sh(`mkdir -p ${ROOT}/cluster/${C}32 && cp ${DIR}/original.qcow2 ${ROOT}/cluster/${C}32/original.qcow2`);
    const t0 = performance.now();
    const out = await runOn(conn, renderStorageScript({ paths: storagePaths(ROOT), container: `${C}32`, baseImage: IMAGE, rootMb: 512, swapMb: 16, ordinals: v.plan.nodes.map((n) => n.ordinal) }), 'storage');
    const ms = Math.round(performance.now() - t0);
    console.log(`install storage step, 32 nodes (roots + swap volumes): ${ms} ms`);
    expect(out).toContain('roots_made 32');
    expect(Number(await sh(`ls ${ROOT}/cluster/${C}32/node*.qcow2 | wc -l`))).toBe(32);
  });
});
