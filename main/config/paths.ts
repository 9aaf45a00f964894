import { homedir } from 'node:os';
import { join } from 'node:path';

/** The app's own directory on the workstation: clusters, known hosts, DB credentials. */
export function appHome(): string {
  return process.env.VLX_HOME || join(process.env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'virtualinux-manager');
}

export const appPaths = {
  clusters: () => join(appHome(), 'clusters.json'),
  knownHosts: () => join(appHome(), 'known_hosts'),
};

/** Where the local lab keeps everything it makes; `lab down` leaves nothing outside it. */
export function labDir(): string {
  return process.env.VLX_LAB_DIR || '/var/lib/vlx-lab';
}

/** Shared storage is mounted at the same path on every node. */
export const SHARED_ROOT = '/srv/virtualinux';
/** Node-private directories (each lab node gets its own via a private mount namespace). */
export const NODE_RUN = '/run/virtualinux';
export const NODE_LIB = '/var/lib/virtualinux';
export const NODE_ETC = '/etc/virtualinux';
