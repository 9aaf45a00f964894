import { invalid } from '../errors.js';
import { checkName, isIPv4 } from '../util/names.js';
import { ipToInt } from '../domain/subnet.js';

/**
 * Routed VC networking (DESIGN.md, Networking): the node that hosts a VM routes the VM's
 * /32 to its tap; every other node, and any extra host such as the workstation, routes it
 * via the hosting node's address. This module computes those routes and the iproute2
 * commands that turn what a host has into what it should have.
 *
 * Our routes carry their own protocol number, so `ip route show proto 77` lists exactly
 * the routes this app owns and a diff never touches the host's other routes. 77 is not
 * in iproute2's table of reserved protocol numbers.
 */
export const ROUTE_PROTO = 77;

/** argv that lists a host's VC routes as JSON; feed its stdout to `parseRoutes`. */
export const ROUTE_LIST_ARGV: readonly string[] = ['ip', '-j', 'route', 'show', 'proto', String(ROUTE_PROTO)];

/** A /32 to a VM: on the hosting node through its tap, elsewhere via the hosting node. */
export type Route = { dst: string; dev: string } | { dst: string; via: string };

export interface HostedVm {
  ip: string;
  /** Name of the node that runs it. */
  node: string;
  tap: string;
}

export interface RouteNode {
  name: string;
  /** The node's IPv4 address on the cluster network: the next hop other hosts use. */
  address: string;
}

export interface RouteChange {
  action: 'replace' | 'delete';
  route: Route;
  /** iproute2 argv; the caller runs it through sh(). */
  argv: string[];
}

const TAP = /^[A-Za-z0-9_.-]{1,15}$/;

function byDst(a: Route, b: Route): number {
  return ipToInt(a.dst.split('/')[0]) - ipToInt(b.dst.split('/')[0]);
}

/**
 * Desired VC routes on every node and extra host, keyed by host name. Every node and extra
 * host gets a key, even with no routes, so a diff against it removes stale ones.
 */
export function desiredRoutes(
  vms: readonly HostedVm[],
  nodes: readonly RouteNode[],
  extraHosts: readonly string[] = [],
): Record<string, Route[]> {
  const address = new Map<string, string>();
  for (const n of nodes) {
    checkName('node', n.name, 'node name');
    if (!isIPv4(n.address)) throw invalid(`address of ${n.name}`, 'must be an IPv4 address to route via', n.address);
    if (address.has(n.name)) throw invalid('node name', 'must be unique', n.name);
    address.set(n.name, n.address);
  }
  const out: Record<string, Route[]> = {};
  for (const n of nodes) out[n.name] = [];
  for (const h of extraHosts) {
    checkName('node', h, 'host name');
    if (h in out) throw invalid('host name', 'must differ from every node name and each other', h);
    out[h] = [];
  }
  const seen = new Set<string>();
  for (const vm of vms) {
    if (!isIPv4(vm.ip)) throw invalid('VM address', 'must be an IPv4 address', vm.ip);
    if (seen.has(vm.ip)) throw invalid('VM address', 'must be unique in the cluster', vm.ip);
    seen.add(vm.ip);
    if (!TAP.test(vm.tap)) throw invalid('tap name', 'must be 1-15 chars of letters, digits, ".", "_" or "-"', vm.tap);
    const via = address.get(vm.node);
    if (via === undefined) throw invalid('VM node', 'must be a node of the cluster', vm.node);
    const dst = `${vm.ip}/32`;
    for (const host of Object.keys(out)) {
      out[host].push(host === vm.node ? { dst, dev: vm.tap } : { dst, via });
    }
  }
  for (const host of Object.keys(out)) out[host].sort(byDst);
  return out;
}

/**
 * The routes in `ip -j route show proto 77` output. iproute2 prints a host route's dst
 * without "/32" and a gatewayed route with both gateway and the resolved dev.
 */
export function parseRoutes(json: string): Route[] {
  const text = json.trim();
  if (text === '') return [];
  let rows: unknown;
  try {
    rows = JSON.parse(text);
  } catch {
    throw invalid('route list', 'must be the JSON output of ip -j route show', text.slice(0, 80));
  }
  if (!Array.isArray(rows)) throw invalid('route list', 'must be a JSON array', text.slice(0, 80));
  const out: Route[] = [];
  for (const r of rows as Array<Record<string, unknown>>) {
    const raw = String(r.dst ?? '');
    const dst = raw.includes('/') ? raw : `${raw}/32`;
    if (typeof r.gateway === 'string') out.push({ dst, via: r.gateway });
    else if (typeof r.dev === 'string') out.push({ dst, dev: r.dev });
  }
  return out.sort(byDst);
}

function same(a: Route, b: Route): boolean {
  if (a.dst !== b.dst) return false;
  if ('dev' in a && 'dev' in b) return a.dev === b.dev;
  if ('via' in a && 'via' in b) return a.via === b.via;
  return false;
}

export function routeArgv(action: RouteChange['action'], route: Route): string[] {
  if (action === 'delete') return ['ip', 'route', 'del', route.dst, 'proto', String(ROUTE_PROTO)];
  const next = 'dev' in route ? ['dev', route.dev] : ['via', route.via];
  return ['ip', 'route', 'replace', route.dst, ...next, 'proto', String(ROUTE_PROTO)];
}

/**
 * Commands that turn `current` (what one host has, our protocol only) into `desired`.
 * `replace` both adds and changes, so re-running after a crash half-way is harmless.
 * Replacements come first: a VM's route changes in one step, never deleted then re-added.
 */
export function diffRoutes(current: readonly Route[], desired: readonly Route[]): RouteChange[] {
  const have = new Map(current.map((r) => [r.dst, r]));
  const want = new Map(desired.map((r) => [r.dst, r]));
  const changes: RouteChange[] = [];
  for (const r of [...want.values()].sort(byDst)) {
    const h = have.get(r.dst);
    if (!h || !same(h, r)) changes.push({ action: 'replace', route: r, argv: routeArgv('replace', r) });
  }
  for (const r of [...have.values()].sort(byDst)) {
    if (!want.has(r.dst)) changes.push({ action: 'delete', route: r, argv: routeArgv('delete', r) });
  }
  return changes;
}

/**
 * Changes per host for every host in either map; hosts with nothing to do are left out.
 * A host absent from `desired` loses all our routes.
 */
export function planRoutes(
  current: Readonly<Record<string, readonly Route[]>>,
  desired: Readonly<Record<string, readonly Route[]>>,
): Record<string, RouteChange[]> {
  const out: Record<string, RouteChange[]> = {};
  const hosts = [...new Set([...Object.keys(current), ...Object.keys(desired)])].sort();
  for (const h of hosts) {
    const changes = diffRoutes(current[h] ?? [], desired[h] ?? []);
    if (changes.length > 0) out[h] = changes;
  }
  return out;
}
