import { invalid } from '../errors.js';
import type { Manifest } from '../domain/manifest.js';
import { SHARED_ROOT } from '../domain/nodePaths.js';
import { INSTALL_BOOT_FILE } from '../domain/bootFiles.js';
import { checkAddress, checkName, isIPv4 } from '../util/names.js';
import { blockSize, cidrContains, cidrLast, formatCidr, intToIp, ipToInt, parseCidr } from '../domain/subnet.js';
import { DEFAULT_STORAGE_PORT, checkStoragePort, defaultStorageVip, type StoragePlan } from './storage.js';
import { planPublic, type PublicPlan } from './publicSide.js';

/**
 * What the master-less services of one cluster look like, decided from the manifest and
 * what each live node reported about itself. Pure: every value that ends up in a config
 * file or a command is checked here, with the manifest field named when it is wrong.
 */

/** What a node told us about itself (the probe in scripts.ts). */
export interface NodeFacts {
  node: string;
  /** The interface carrying the node's cluster address. */
  iface?: string;
  /** That interface's MAC. */
  mac?: string;
  /** The interface of the node's default route. */
  outIface?: string;
  tools: { dnsmasq: boolean; keepalived: boolean; nft: boolean; chronyd: boolean };
}

export interface DhcpHost {
  mac: string;
  ip: string;
  name: string;
}

export interface NodePlan {
  name: string;
  address: string;
  iface: string;
  outIface: string;
  /** Where the public address goes (gateway.public.interface, else the VIP's interface); only with a public side. */
  publicIface?: string;
  /** VRRP priority: the preferred gateway node has the highest. */
  priority: number;
  /** VRRP priority for the storage address: the reverse order, so the root server is rarely the gateway too. */
  storagePriority: number;
  /** Every other node of the manifest, live or not: a revived node rejoins without a redeploy of the others. */
  peers: string[];
  /** chronyd is installed on this node: NTP is replicated here too. */
  ntp: boolean;
}

export interface ServicesPlan {
  cluster: string;
  network: string;
  netmask: string;
  prefix: number;
  vip: string;
  routerId: number;
  /** Every node address of the manifest, in manifest order. */
  addresses: string[];
  /** The gateway's public side: the holder's address, router and the route of the others to the VIP. */
  public?: PublicPlan;
  /** Sources the gateway NATs: the cluster network and the VC pool. */
  natSources: string[];
  dhcpHosts: DhcpHost[];
  /** Nodes with no MAC in the manifest and none learned (down at deploy): no DHCP entry. */
  nodesWithoutMac: string[];
  leaseTime: string;
  bootFile?: string;
  domain?: string;
  upstreamDns: string[];
  ntpUpstream: string[];
  tftpRoot: string;
  /** The root server of disk-less nodes (storage.ts). */
  storage: StoragePlan;
  /** The live nodes that get the services, in manifest order. */
  nodes: NodePlan[];
  /** Manifest nodes that reported nothing (unreachable): left alone. */
  skipped: string[];
}

export const DEFAULT_ROUTER_ID = 51;
export const DEFAULT_LEASE_TIME = '12h';
/** VRRP priorities 1-254 (255 means "owns the address", which no node does). */
export const TOP_PRIORITY = 250;

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
const IFACE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,14}$/;
const LEASE = /^(infinite|[1-9]\d{0,7}[smhdw]?)$/;
const BOOT_FILE = /^[A-Za-z0-9_][A-Za-z0-9._-]*(\/[A-Za-z0-9_][A-Za-z0-9._-]*)*$/;
const DOMAIN = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;
const HOST_NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

const PLAIN_PATH = /^\/[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/;

/** The shared root lands in dnsmasq's config, which has no quoting of its own. */
export function checkSharedRoot(value: string): string {
  if (!PLAIN_PATH.test(value) || value.split('/').includes('..')) throw invalid('sharedRoot', 'must be an absolute path of letters, digits, ".", "_" and "-"', value);
  return value;
}

export function checkMac(value: unknown, field: string): string {
  const v = typeof value === 'string' ? value.toLowerCase() : value;
  if (typeof v !== 'string' || !MAC.test(v)) throw invalid(field, 'must be a MAC address like 52:54:00:12:34:56', value);
  // A multicast MAC (low bit of the first octet) is never a NIC's own.
  if (parseInt(v.slice(0, 2), 16) & 1) throw invalid(field, 'must be a unicast MAC (the first octet is even)', value);
  return v;
}

export function checkIface(value: unknown, field: string): string {
  if (typeof value !== 'string' || !IFACE.test(value)) throw invalid(field, 'must be an interface name: 1-15 letters, digits, "_", "." or "-"', value);
  return value;
}

/** The .253 of the cluster network: the report's habit of a fixed, well-known gateway address. */
export function defaultVip(network: string): string {
  const c = parseCidr(network, 'clusterNetwork');
  if (c.prefix > 30) throw invalid('clusterNetwork', 'must be a /30 or larger to hold a gateway VIP', network);
  // In a network smaller than a /24 there is no .253: take the last address but one.
  return intToIp(c.base + (c.prefix <= 24 ? 253 : blockSize(c.prefix) - 2));
}

function hostAddress(ip: string, net: ReturnType<typeof parseCidr>, field: string): number {
  const n = ipToInt(ip, field);
  if (!cidrContains(net, n)) throw invalid(field, `must be inside the cluster network ${formatCidr(net)}`, ip);
  if (net.prefix < 31 && (n === net.base || n === cidrLast(net))) throw invalid(field, 'must not be the network or broadcast address', ip);
  return n;
}

/** Gateway preference: the order list first, then the remaining nodes in manifest order. */
export function gatewayRanking(nodeNames: string[], order: string[] | undefined): string[] {
  const seen = new Set<string>();
  (order ?? []).forEach((n, i) => {
    checkName('node', n, `gateway.order[${i}]`);
    if (!nodeNames.includes(n)) throw invalid(`gateway.order[${i}]`, `must be a node of the manifest (${nodeNames.join(', ')})`, n);
    if (seen.has(n)) throw invalid(`gateway.order[${i}]`, 'must not repeat a node', n);
    seen.add(n);
  });
  return [...(order ?? []), ...nodeNames.filter((n) => !seen.has(n))];
}

export function priorityOf(rank: number): number {
  return Math.max(1, TOP_PRIORITY - rank);
}

export function planServices(m: Manifest, facts: NodeFacts[]): ServicesPlan {
  const net = parseCidr(m.clusterNetwork, 'clusterNetwork');
  if (net.prefix > 30) throw invalid('clusterNetwork', 'must be a /30 or larger to hold a gateway VIP', m.clusterNetwork);
  const network = formatCidr(net);
  const names = m.nodes.map((n, i) => checkName('node', n.name, `nodes[${i}].name`));
  if (new Set(names).size !== names.length) throw invalid('nodes', 'must not name a node twice', names);
  const addrs = m.nodes.map((n, i) => {
    const a = checkAddress(n.address, `nodes[${i}].address`);
    if (!isIPv4(a)) throw invalid(`nodes[${i}].address`, 'must be an IPv4 address (VRRP peers and the DHCP map need one)', a);
    hostAddress(a, net, `nodes[${i}].address`);
    return a;
  });
  if (new Set(addrs).size !== addrs.length) throw invalid('nodes', 'must not give two nodes the same address', addrs);

  const gw = m.gateway ?? {};
  const vip = gw.vip ?? defaultVip(network);
  hostAddress(vip, net, 'gateway.vip');
  if (addrs.includes(vip)) throw invalid('gateway.vip', 'must not be the address of a node', vip);
  const routerId = gw.routerId ?? DEFAULT_ROUTER_ID;
  if (!Number.isInteger(routerId) || routerId < 1 || routerId > 255) throw invalid('gateway.routerId', 'must be a whole number from 1 to 255', routerId);
  const ifaceOverride = gw.interface === undefined ? undefined : checkIface(gw.interface, 'gateway.interface');
  const outOverride = gw.outInterface === undefined ? undefined : checkIface(gw.outInterface, 'gateway.outInterface');
  const ranking = gatewayRanking(names, gw.order);

  const factOf = new Map(facts.map((f) => [f.node, f]));
  const svc = m.services ?? {};

  // The DHCP map: the manifest's MAC for each node, else the one the node reported.
  const dhcpHosts: DhcpHost[] = [];
  const nodesWithoutMac: string[] = [];
  m.nodes.forEach((n, i) => {
    const mac = n.mac !== undefined ? checkMac(n.mac, `nodes[${i}].mac`) : factOf.get(n.name)?.mac;
    if (mac === undefined) nodesWithoutMac.push(n.name);
    else dhcpHosts.push({ mac: checkMac(mac, `MAC reported by node ${n.name}`), ip: addrs[i], name: n.name });
  });
  (svc.dhcp?.hosts ?? []).forEach((h, i) => {
    const field = `services.dhcp.hosts[${i}]`;
    const mac = checkMac(h.mac, `${field}.mac`);
    hostAddress(h.ip, net, `${field}.ip`);
    if (h.ip === vip) throw invalid(`${field}.ip`, 'must not be the gateway VIP', h.ip);
    if (typeof h.name !== 'string' || !HOST_NAME.test(h.name)) throw invalid(`${field}.name`, 'must be a host name: lowercase letters, digits and "-", at most 63', h.name);
    dhcpHosts.push({ mac, ip: h.ip, name: h.name });
  });
  // Disk-less nodes of the installation: fixed addresses, and they boot from the TFTP root.
  (m.install?.nodes ?? []).forEach((n, i) => {
    const field = `install.nodes[${i}]`;
    hostAddress(n.ip, net, `${field}.ip`);
    dhcpHosts.push({ mac: checkMac(n.mac, `${field}.mac`), ip: n.ip, name: n.hostname });
  });
  for (const key of ['mac', 'ip', 'name'] as const) {
    const seen = new Set<string>();
    for (const h of dhcpHosts) {
      if (seen.has(h[key])) throw invalid('DHCP map', `must not hold the ${key === 'ip' ? 'address' : key} ${h[key]} twice`, h[key]);
      seen.add(h[key]);
    }
  }

  const leaseTime = svc.dhcp?.leaseTime ?? DEFAULT_LEASE_TIME;
  if (!LEASE.test(leaseTime)) throw invalid('services.dhcp.leaseTime', 'must be a number with an optional unit s, m, h, d or w, or "infinite"', leaseTime);
  const bootFile = svc.dhcp?.bootFile ?? (m.install ? INSTALL_BOOT_FILE : undefined);
  if (bootFile !== undefined && (!BOOT_FILE.test(bootFile) || bootFile.split('/').includes('..'))) {
    throw invalid('services.dhcp.bootFile', 'must be a relative path under the TFTP root (letters, digits, ".", "_", "-", "/")', bootFile);
  }
  const domain = svc.dns?.domain;
  if (domain !== undefined && !DOMAIN.test(domain)) throw invalid('services.dns.domain', 'must be a DNS domain of lowercase letters, digits, "-" and "."', domain);
  const upstreamDns = (svc.dns?.upstream ?? []).map((u, i) => {
    if (!isIPv4(u)) throw invalid(`services.dns.upstream[${i}]`, 'must be an IPv4 address', u);
    return u;
  });
  const ntpUpstream = (svc.ntp?.upstream ?? []).map((u, i) => checkAddress(u, `services.ntp.upstream[${i}]`));

  const st = svc.storage ?? {};
  const storageVip = st.vip ?? intToIp(defaultStorageVip(net.base, net.prefix, blockSize(net.prefix)));
  hostAddress(storageVip, net, 'services.storage.vip');
  if (addrs.includes(storageVip)) throw invalid('services.storage.vip', 'must not be the address of a node', storageVip);
  if (storageVip === vip) throw invalid('services.storage.vip', 'must not be the gateway VIP', storageVip);
  if (dhcpHosts.some((h) => h.ip === storageVip)) throw invalid('services.storage.vip', 'must not be an address of the DHCP map', storageVip);
  const storageRouterId = st.routerId ?? (routerId % 255) + 1;
  if (!Number.isInteger(storageRouterId) || storageRouterId < 1 || storageRouterId > 255) throw invalid('services.storage.routerId', 'must be a whole number from 1 to 255', storageRouterId);
  if (storageRouterId === routerId) throw invalid('services.storage.routerId', 'must differ from gateway.routerId', storageRouterId);
  const sharedRoot = checkSharedRoot(m.sharedRoot || SHARED_ROOT);
  const storage: StoragePlan = {
    vip: storageVip,
    port: st.port === undefined ? DEFAULT_STORAGE_PORT : checkStoragePort(st.port),
    routerId: storageRouterId,
    clusterDir: `${sharedRoot}/cluster`,
  };

  const vcPoolCidr = parseCidr(m.vcSubnetPool, 'vcSubnetPool');
  const vcPool = formatCidr(vcPoolCidr);
  const pub = gw.public === undefined ? undefined
    : planPublic(gw.public, [{ cidr: net, field: 'the cluster network' }, { cidr: vcPoolCidr, field: 'the VC pool (vcSubnetPool)' }]);
  const publicIfaceOverride = gw.public?.interface === undefined ? undefined : checkIface(gw.public.interface, 'gateway.public.interface');
  const nodes: NodePlan[] = [];
  const skipped: string[] = [];
  m.nodes.forEach((n, i) => {
    const f = factOf.get(n.name);
    if (!f) {
      skipped.push(n.name);
      return;
    }
    const iface = ifaceOverride ?? f.iface;
    if (iface === undefined) throw invalid(`node ${n.name}`, `must carry its address ${addrs[i]} on an interface (or set gateway.interface)`);
    const outIface = outOverride ?? f.outIface ?? iface;
    nodes.push({
      name: n.name,
      address: addrs[i],
      iface: checkIface(iface, `interface of node ${n.name}`),
      outIface: checkIface(outIface, `outside interface of node ${n.name}`),
      ...(pub ? { publicIface: publicIfaceOverride ?? checkIface(iface, `interface of node ${n.name}`) } : {}),
      priority: priorityOf(ranking.indexOf(n.name)),
      storagePriority: priorityOf(ranking.length - 1 - ranking.indexOf(n.name)),
      peers: addrs.filter((_, j) => j !== i),
      ntp: f.tools.chronyd,
    });
  });

  return {
    cluster: m.name,
    network,
    netmask: intToIp(net.prefix === 0 ? 0 : (0xffffffff << (32 - net.prefix)) >>> 0),
    prefix: net.prefix,
    vip,
    routerId,
    addresses: addrs,
    ...(pub ? { public: pub } : {}),
    natSources: vcPool === network ? [network] : [network, vcPool],
    dhcpHosts,
    nodesWithoutMac,
    leaseTime,
    ...(bootFile !== undefined ? { bootFile } : {}),
    ...(domain !== undefined ? { domain } : {}),
    upstreamDns,
    ntpUpstream,
    tftpRoot: `${sharedRoot}/tftp`,
    storage,
    nodes,
    skipped,
  };
}
