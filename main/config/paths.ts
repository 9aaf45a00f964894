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

// Where things are on the nodes is a fact of the design, not of this workstation: pure, in domain/.
export { SHARED_ROOT, NODE_RUN, NODE_LIB, NODE_ETC } from '../domain/nodePaths.js';
