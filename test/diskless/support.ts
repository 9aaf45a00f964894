import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { SHARED_ROOT } from '../../main/config/paths.js';
import { getCluster, putCluster } from '../../main/config/clusters.js';
import { Manifest } from '../../main/domain/manifest.js';
import type { BuiltImage } from '../../main/images/tiny.js';
import { checkLabDir, labPaths } from '../../main/lab/layout.js';
import { labDir } from '../../main/config/paths.js';
import { replaceKnownHost } from '../../main/ssh/knownHosts.js';
import { labSsh } from '../integration/support/lab.js';

/**
 * What the install workflow does for one disk-less node, done here by hand where the
 * install has not landed: the container's original and the node's overlay on shared
 * storage, its identity written into the overlay (hostname, the cluster's key, host keys
 * made here so the app can trust them), its DHCP entry in the manifest, its network-boot
 * entry on the TFTP root, and its place in the app's cluster config.
 */
const run = promisify(execFile);
export const CONTAINER = 'lab';

export interface DisklessNode {
  name: string;
  index: number;
  address: string;
  mac: string;
  exportName: string;
}

export function labShared(): string {
  return labPaths(checkLabDir(labDir())).shared;
}

/** The original from the built image, copied when the build changed; the node's overlay anew. */
export async function prepareStorage(built: BuiltImage, nodes: DisklessNode[], via: string): Promise<void> {
  const dir = join(labShared(), 'cluster', CONTAINER);
  mkdirSync(dir, { recursive: true });
  const original = join(dir, 'original.qcow2');
  const stamp = join(dir, 'original.inputs');
  if (!existsSync(original) || !existsSync(stamp) || readFileSync(stamp, 'utf8') !== built.meta.inputs) {
    copyFileSync(built.files.qcow2, `${original}.tmp`);
    renameSync(`${original}.tmp`, original);
    writeFileSync(stamp, built.meta.inputs);
  }
  const inNode = `${SHARED_ROOT}/cluster/${CONTAINER}`;
  const r = await labSsh(via, nodes.map((n) =>
    `rm -f ${inNode}/node${n.index}.qcow2 && qemu-img create -q -f qcow2 -b ${inNode}/original.qcow2 -F qcow2 ${inNode}/node${n.index}.qcow2`).join(' && '));
  if (r.code !== 0) throw new Error(`overlays: ${r.stderr}`);
}

/**
 * Files into a node's root overlay without booting it: qemu-storage-daemon shows the overlay
 * as a raw file (FUSE export) and debugfs writes into the ext4 inside. Run on a lab node,
 * where the overlay's backing path resolves.
 */
export async function writeIdentity(n: DisklessNode, via: string, publicKey: string): Promise<{ keyType: string; keyBase64: string }> {
  const tmp = mkdtempSync('/tmp/vlx-diskless-keys-');
  try {
    await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `root@${n.name}`, '-f', join(tmp, 'host')]);
    const hostKey = readFileSync(join(tmp, 'host'), 'utf8');
    const hostPub = readFileSync(join(tmp, 'host.pub'), 'utf8');
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    const ov = `${SHARED_ROOT}/cluster/${CONTAINER}/node${n.index}.qcow2`;
    const script = [
      'set -e',
      't=$(mktemp -d /run/virtualinux/identity.XXXXXX)',
      'cd "$t"; : > disk',
      `echo ${b64(publicKey)} | base64 -d > authorized_keys; echo ${b64(`${n.name}\n`)} | base64 -d > hostname`,
      `echo ${b64(hostKey)} | base64 -d > key; echo ${b64(hostPub)} | base64 -d > key.pub; chmod 600 key authorized_keys; chmod 644 key.pub hostname`,
      `qemu-storage-daemon --blockdev driver=qcow2,node-name=d,file.driver=file,file.filename=${ov} --export type=fuse,id=f,node-name=d,mountpoint="$t/disk",writable=on --pidfile "$t/pid" --daemonize`,
      'cat > cmds <<EOF',
      'mkdir /root/.ssh',
      'sif /root/.ssh mode 040700',
      'rm /root/.ssh/authorized_keys',
      'write authorized_keys /root/.ssh/authorized_keys',
      'rm /etc/hostname',
      'write hostname /etc/hostname',
      'rm /etc/ssh/ssh_host_ed25519_key',
      'rm /etc/ssh/ssh_host_ed25519_key.pub',
      'write key /etc/ssh/ssh_host_ed25519_key',
      'write key.pub /etc/ssh/ssh_host_ed25519_key.pub',
      'EOF',
      'debugfs -w -f cmds disk >debugfs.log 2>&1 || { cat debugfs.log; exit 1; }',
      'p=$(cat pid); kill "$p"; i=0; while [ -d "/proc/$p" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done',
      'cd /; rm -rf "$t"',
    ].join('\n');
    const r = await labSsh(via, script, 10);
    if (r.code !== 0) throw new Error(`identity of ${n.name}: ${r.stdout} ${r.stderr}`);
    const [keyType, keyBase64] = hostPub.trim().split(/\s+/);
    return { keyType: keyType!, keyBase64: keyBase64! };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

export const BOOT_FILE = 'vlx.ipxe';

/** iPXE: one script for all (chains to the machine's own by MAC), one entry per node with its boot line. */
export function writeBootEntries(built: BuiltImage, entries: { node: DisklessNode; bootLine: string }[]): void {
  const tftp = join(labShared(), 'tftp');
  mkdirSync(join(tftp, 'boot'), { recursive: true });
  const name = built.meta.name;
  for (const [from, ext] of [[built.files.kernel, 'kernel'], [built.files.initrd, 'initrd']] as const) {
    const to = join(tftp, `${name}.${ext}`);
    if (!existsSync(to) || statSync(to).size !== statSync(from).size || statSync(to).mtimeMs < statSync(from).mtimeMs) {
      copyFileSync(from, `${to}.tmp`);
      renameSync(`${to}.tmp`, to);
    }
  }
  writeFileSync(join(tftp, BOOT_FILE), '#!ipxe\nchain /boot/${mac:hexhyp}.ipxe\n');
  for (const e of entries) {
    writeFileSync(join(tftp, 'boot', `${e.node.mac.replace(/:/g, '-')}.ipxe`), [
      '#!ipxe', `kernel /${name}.kernel ${e.bootLine}`, `initrd /${name}.initrd`, 'boot', '',
    ].join('\n'));
  }
}

/** The manifest lists the node (its DHCP entry) and names the boot file; the app's config lists it too. */
export function addToCluster(nodes: DisklessNode[]): () => void {
  const file = join(labShared(), 'manifest.json');
  const before = readFileSync(file, 'utf8');
  const m = Manifest.parse(JSON.parse(before));
  m.nodes = [...m.nodes.filter((x) => !nodes.some((n) => n.name === x.name)), ...nodes.map((n) => ({ name: n.name, address: n.address, mac: n.mac, cores: 1, memMb: 768 }))];
  m.services = { ...m.services, dhcp: { ...m.services?.dhcp, bootFile: BOOT_FILE } };
  writeFileSync(file, JSON.stringify(m, null, 2) + '\n');
  const c = getCluster('lab');
  const clusterBefore = structuredClone(c);
  putCluster({ ...c, nodes: [...c.nodes.filter((x) => !nodes.some((n) => n.name === x.name)), ...nodes.map((n) => ({ name: n.name, address: n.address }))] }, true);
  return () => {
    writeFileSync(file, before);
    putCluster(clusterBefore, true);
  };
}

export function trustHostKey(n: DisklessNode, key: { keyType: string; keyBase64: string }): void {
  replaceKnownHost(n.address, 22, key);
}
