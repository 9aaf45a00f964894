import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { appPaths, labDir } from '../../main/config/paths.js';
import { checkLabDir, labPaths } from '../../main/lab/layout.js';
import { machineMac } from '../../main/lab/machines.js';
import { tftpLayout } from '../../main/domain/bootFiles.js';

/**
 * The disk-less suite installs its nodes with `vlx install`, as an admin would, and leaves
 * the lab as it found it: the installation's files gone, the manifest (hence the services'
 * DHCP map) and this app home's cluster config and known hosts back as they were.
 */
export const CONTAINER = 'dl';
export const PREFIX = 'dl';
export const FIRST_HOST = 101;
export const NODES = 3;

export interface InstalledNode { ordinal: number; name: string; address: string; mac: string; exportName: string }

/** Each node as the install plans it; the MAC is the one `vlx lab power-on NAME` gives machine NAME. */
export function installedNodes(): InstalledNode[] {
  return Array.from({ length: NODES }, (_, i) => {
    const name = `${PREFIX}${i + 1}`;
    return { ordinal: i + 1, name, address: `10.77.0.${FIRST_HOST + i}`, mac: machineMac(name), exportName: `${CONTAINER}-node${i + 1}` };
  });
}

/** The install config, like `vlx install --example` on the lab, with the node image as its base. */
export function installYaml(baseImage: string, sshKey: string): string {
  return [
    `baseImage: ${baseImage}`,
    `container: ${CONTAINER}`,
    `hostnamePrefix: ${PREFIX}`,
    // The root is as large as the original; swap and the shared volume are not used by the boot.
    'sizes: { rootMb: 512, swapMb: 16, sharedMb: 16 }',
    `network: { boot: { firstIp: 10.77.0.${FIRST_HOST}, netmask: 255.255.255.0 }, storageIp: 10.77.0.252, modules: [e1000] }`,
    'gateway: { primary: 10.77.0.1, backup: 10.77.0.2, spare: 10.77.0.253 }',
    'nodes:',
    ...installedNodes().map((n) => `  - mac: ${n.mac}`),
    'sshKeys:',
    `  - ${sshKey.trim()}`,
    '',
  ].join('\n');
}

export function labShared(): string {
  return labPaths(checkLabDir(labDir())).shared;
}

/** The host's view of what the installation writes on shared storage. */
export function installFiles(): string[] {
  const shared = labShared();
  const t = tftpLayout(CONTAINER);
  return [join(shared, 'cluster', CONTAINER), join(shared, 'tftp', CONTAINER), ...installedNodes().map((n) => join(shared, 'tftp', t.nodeEntry(n.mac)))];
}

/** What the suite changes outside the installation's own files, kept to be put back. */
export interface LabSnapshot { manifest: string; bootScript: boolean; image: boolean; clusters: string; knownHosts?: string }

const IMAGE_FILES = ['qcow2', 'kernel', 'initrd', 'json'];
const imageFile = (name: string, ext: string) => join(labShared(), 'images', `${name}.${ext}`);

/** A run killed before its clean-up left its installation in the manifest: that is not the lab as found. */
function withoutOwnInstall(text: string): string {
  const m = JSON.parse(text) as { install?: { container?: string } };
  if (m.install?.container !== CONTAINER) return text;
  delete m.install;
  return JSON.stringify(m, null, 2) + '\n';
}

/** Taken before the node image is published: an image the suite put on shared storage goes again. */
export function snapshotLab(image: string): LabSnapshot {
  const shared = labShared();
  const kh = appPaths.knownHosts();
  return {
    manifest: withoutOwnInstall(readFileSync(join(shared, 'manifest.json'), 'utf8')),
    bootScript: existsSync(join(shared, 'tftp', tftpLayout(CONTAINER).bootScript)),
    image: existsSync(imageFile(image, 'json')),
    clusters: readFileSync(appPaths.clusters(), 'utf8'),
    ...(existsSync(kh) ? { knownHosts: readFileSync(kh, 'utf8') } : {}),
  };
}

export function removeInstallFiles(): void {
  for (const f of installFiles()) rmSync(f, { recursive: true, force: true });
}

export function restoreLab(s: LabSnapshot, image: string): void {
  removeInstallFiles();
  const shared = labShared();
  if (!s.image) for (const ext of IMAGE_FILES) rmSync(imageFile(image, ext), { force: true });
  if (!s.bootScript) {
    rmSync(join(shared, 'tftp', tftpLayout(CONTAINER).bootScript), { force: true });
    rmSync(join(shared, 'tftp', 'nodes'), { recursive: true, force: true });
  }
  writeFileSync(join(shared, 'manifest.json'), s.manifest);
  writeFileSync(appPaths.clusters(), s.clusters, { mode: 0o600 });
  if (s.knownHosts !== undefined) writeFileSync(appPaths.knownHosts(), s.knownHosts, { mode: 0o600 });
  else rmSync(appPaths.knownHosts(), { force: true });
}
