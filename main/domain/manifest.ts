import { z } from 'zod';
import { VlxError } from '../errors.js';
import { blockSize, formatCidr, ipToInt, netmaskPrefix } from './subnet.js';

/**
 * The cluster manifest (successor of the report's INSTALL.info). Kept on shared storage at
 * <shared>/manifest.json and mirrored in the DB; the workstation caches the node list.
 */
export const Manifest = z.object({
  version: z.literal(1),
  name: z.string(),
  sharedRoot: z.string().default('/srv/virtualinux'),
  nodes: z.array(z.object({
    name: z.string(),
    address: z.string(),
    cores: z.number().int().positive(),
    memMb: z.number().int().positive(),
    /** MAC of the node's cluster interface: its fixed entry in the DHCP map (PXE boot). */
    mac: z.string().optional(),
  })).min(1),
  /** Where the cluster database runs (no password here: that stays on the workstation). */
  db: z.object({
    node: z.string(), host: z.string(), port: z.number().int(),
    /** Every member (Patroni + PostgreSQL); node/host is the primary when the members were last deployed. */
    members: z.array(z.object({ node: z.string(), host: z.string() })).optional(),
  }).optional(),
  /** Pool that VC subnets (one /24 each) are taken from. */
  vcSubnetPool: z.string().default('10.200.0.0/16'),
  /** The physical network, which no VC subnet may overlap. */
  clusterNetwork: z.string(),
  /**
   * The cluster gateway: a VIP held by one node at a time (VRRP), which NATs the cluster
   * out. Every field is optional; main/cluster-services checks and completes them.
   */
  gateway: z.object({
    /** Default: the .253 of the cluster network. */
    vip: z.string().optional(),
    /** Interface the VIP goes on; default: the one carrying the node's address. */
    interface: z.string().optional(),
    /** Where NATed traffic leaves; default: the interface of the node's default route. */
    outInterface: z.string().optional(),
    /** VRRP virtual router id (unique on the cluster network). */
    routerId: z.number().int().optional(),
    /** Nodes preferred as gateway, most preferred first; the others follow in manifest order. */
    order: z.array(z.string()).optional(),
    /**
     * The public side, named as the install config names it: the holder of the VIP also holds
     * `ip` and routes the outside via `router`; the other nodes route outside-bound traffic to
     * the VIP. Checked by main/node-services/publicSide.
     */
    public: z.object({
      ip: z.string(),
      /** Dotted (255.255.255.0) or a prefix length. */
      netmask: z.union([z.string(), z.number()]),
      router: z.string(),
      /** Interface the public address goes on; default: the VIP's. */
      interface: z.string().optional(),
    }).optional(),
  }).optional(),
  /**
   * The disk-less installation (written by `vlx install`): the config as given and each
   * node as planned from it. Its nodes join the DHCP map and boot from the TFTP root.
   */
  install: z.object({
    container: z.string(),
    /** The install config as validated (domain/installConfig), so restore needs nothing else. */
    config: z.record(z.string(), z.unknown()),
    storageIp: z.string(),
    nodes: z.array(z.object({
      ordinal: z.number().int().positive(),
      hostname: z.string(),
      mac: z.string(),
      ip: z.string(),
      storageIp: z.string(),
      /** NBD export of the node's root overlay (the boot line's ivid). */
      export: z.string(),
    })),
  }).optional(),
  /** Options of the actively replicated services (DHCP+TFTP+DNS by dnsmasq, NTP by chrony). */
  services: z.object({
    dhcp: z.object({
      /** Static entries besides the nodes (spare nodes, appliances). */
      hosts: z.array(z.object({ mac: z.string(), ip: z.string(), name: z.string() })).optional(),
      leaseTime: z.string().optional(),
      /** PXE boot file, relative to the TFTP root. */
      bootFile: z.string().optional(),
    }).optional(),
    dns: z.object({
      domain: z.string().optional(),
      /** Upstream resolvers; default: the node's own resolv.conf. */
      upstream: z.array(z.string()).optional(),
    }).optional(),
    ntp: z.object({
      /** Upstream time servers; without them the nodes keep time among themselves. */
      upstream: z.array(z.string()).optional(),
    }).optional(),
    /** The root server of disk-less nodes: NBD on a floating storage address (the boot line's storage_ip). */
    storage: z.object({
      /** Default: the .252 of the cluster network. */
      vip: z.string().optional(),
      /** Default 10809 (NBD's port). */
      port: z.number().int().optional(),
      /** VRRP virtual router id; default: the gateway's + 1. */
      routerId: z.number().int().optional(),
    }).optional(),
  }).optional(),
});
export type Manifest = z.infer<typeof Manifest>;

/**
 * The one parser of manifest text, wherever it was read from (first contact, workflows, node
 * services, the install): `where` names the file and node in the error.
 */
export function parseManifest(text: string, where: string): Manifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw new VlxError('invalid-input', `${where} is not valid JSON`);
  }
  const m = Manifest.safeParse(raw);
  if (!m.success) throw new VlxError('invalid-input', `${where} does not match the manifest schema: ${z.prettifyError(m.error)}`);
  return m.data;
}

/**
 * The networks no VC subnet may overlap: the cluster network, and the gateway's public
 * network when it has one (a VC subnet there would shadow the outside for every VC, and the
 * holder's public filter drops what comes from it). Not the networks closed to VMs: they reach
 * the public network, through the NAT. Labels say which manifest field it is.
 */
export function reservedNetworksOf(m: Pick<Manifest, 'clusterNetwork' | 'gateway'>): { cidr: string; label: string }[] {
  const out = [{ cidr: m.clusterNetwork, label: 'the cluster network' }];
  const pub = m.gateway?.public;
  if (pub) {
    const prefix = netmaskPrefix(pub.netmask, 'gateway.public.netmask');
    const ip = ipToInt(pub.ip, 'gateway.public.ip');
    out.push({ cidr: formatCidr({ base: ip - (ip % blockSize(prefix)), prefix }), label: 'the public network, gateway.public' });
  }
  return out;
}
