import { CHANNELS, type Channel } from '../api/contract.js';
import type { AppServices, ServiceMethods } from '../api/methods.js';
import { ServiceContext, type ServiceOptions } from './context.js';

/**
 * The service layer: one module per domain, each implementing its part of the contract.
 * Every face reaches it the same way, through `createDispatch(createServices(...))`: Electron
 * over IPC, the browser bridge over its WebSocket, the CLI in process. A domain's module is
 * loaded on its first call, so a cold `vlx exec` loads the exec module and nothing of the
 * database, QEMU or consoles.
 */
const DOMAINS = {
  app: () => import('./app.js'),
  clusters: () => import('./clusters.js'),
  lab: () => import('./lab.js'),
  nodes: () => import('./nodes.js'),
  health: () => import('./health.js'),
  exec: () => import('./exec.js'),
  db: () => import('./db.js'),
  nodeServices: () => import('./nodeServices.js'),
  tasks: () => import('./tasks.js'),
  images: () => import('./images.js'),
  vcs: () => import('./vcs.js'),
  vms: () => import('./vms.js'),
  volumes: () => import('./volumes.js'),
  snapshots: () => import('./snapshots.js'),
  terminals: () => import('./terminals.js'),
  install: () => import('./install.js'),
  experiments: () => import('./experiments.js'),
} as const;
export type Domain = keyof typeof DOMAINS;

/** Which module owns a channel: the prefix names the domain (a test holds every module to exactly its channels). */
const PREFIX: Record<string, Domain> = {
  app: 'app', clusters: 'clusters', hostKey: 'clusters', lab: 'lab', nodes: 'nodes', node: 'health', exec: 'exec', db: 'db',
  services: 'nodeServices', tasks: 'tasks', images: 'images', vc: 'vcs', vm: 'vms', volumes: 'volumes', snapshots: 'snapshots', terminal: 'terminals',
  install: 'install', restore: 'install', experiments: 'experiments',
};

export function domainOf(channel: Channel): Domain {
  const d = PREFIX[channel.split('.')[0]!];
  if (!d) throw new Error(`no service domain for channel ${channel}`);
  return d;
}

export async function loadDomain(d: Domain): Promise<Record<string, (ctx: ServiceContext, input: unknown) => Promise<unknown>>> {
  return (await DOMAINS[d]()).handlers as unknown as Record<string, (ctx: ServiceContext, input: unknown) => Promise<unknown>>;
}

export const DOMAIN_NAMES = Object.keys(DOMAINS) as Domain[];

export function createServices(opts: ServiceOptions = {}): AppServices & { context: ServiceContext } {
  const ctx = new ServiceContext(opts);
  const methods = Object.fromEntries(CHANNELS.map((c) => [c, async (input: unknown) => {
    const handlers = await loadDomain(domainOf(c));
    return handlers[c]!(ctx, input);
  }])) as unknown as ServiceMethods;
  return { methods, events: ctx.hub, context: ctx, close: () => ctx.close() };
}
