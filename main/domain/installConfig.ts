import { z } from 'zod';
import { NAME_RULES } from '../util/names.js';
import { SHARED_ROOT } from './nodePaths.js';
import { blockSize, intToIp } from './subnet.js';
import { nodeExportName } from './bootLine.js';

/**
 * The cluster's install configuration (successor of the report's INSTALL.info): one schema
 * with a default and a rule for every parameter, then the rules across fields. Pure: the
 * facts that need the cluster (free space, containers in use, addresses taken) are passed
 * in. Every error names its field as a path (`nodes.2.mac`) and the rule it broke.
 */

export const INSTALL_DEFAULTS = {
  baseImage: 'debian-12-node',
  sharedRoot: SHARED_ROOT,
  container: 'debian',
  rootMb: 5120,
  swapMb: 2048,
  sharedMb: 10240,
  hostnamePrefix: 'node',
  netmask: '255.255.255.0',
  /**
   * Host parts of the well-known addresses in a /24, as in the report: the storage address
   * .252 (the root server's floating address, node-services/storage), the spare (gateway
   * VIP) .253. In a smaller network: the last addresses but two and but one.
   */
  storageHost: { inSlash24: 252, fromEnd: 3 },
  spareHost: { inSlash24: 253, fromEnd: 2 },
} as const;

export const MAX_INSTALL_NODES = 250;

const OCTET = '(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const IPV4_RE = new RegExp(`^${OCTET}(\\.${OCTET}){3}$`);
export const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
const SSH_KEY_RE = /^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com) [A-Za-z0-9+/]+={0,3}( [!-~][ -~]{0,199})?$/;
const DOMAIN_RE = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

const RULE = {
  ip: 'must be an IPv4 address like 10.77.0.101',
  netmask: 'must be a netmask like 255.255.255.0',
  mac: 'must be a MAC address like 52:54:4d:00:01:01',
  sshKey: 'must be one OpenSSH public key line (ssh-ed25519 AAAA… comment)',
  domain: 'must be a DNS domain of lowercase letters, digits, "-" and "."',
  hostnamePrefix: 'must be 1-24 chars: a lowercase letter, then lowercase letters, digits or "-"',
  sharedRoot: 'must be an absolute path of letters, digits, ".", "_" and "-" segments',
  size: (min: number, max: number) => `must be a whole number of MB from ${min} to ${max}`,
} as const;

const Ip = z.string({ error: RULE.ip }).regex(IPV4_RE, { error: RULE.ip });
const Netmask = z.string({ error: RULE.netmask }).refine(isNetmask, { error: RULE.netmask });
const Mb = (min: number, max: number, def: number) =>
  z.number({ error: RULE.size(min, max) }).int({ error: RULE.size(min, max) }).min(min, { error: RULE.size(min, max) })
    .max(max, { error: RULE.size(min, max) }).default(def);

/** A MAC as people write it (upper case, dashes, dots) becomes the one form dnsmasq and iPXE files use. */
export function normaliseMac(text: string): string | undefined {
  const hex = text.trim().toLowerCase().replace(/[-:.]/g, '');
  if (!/^[0-9a-f]{12}$/.test(hex)) return undefined;
  if (!/^([0-9a-f]{2}[-:]){5}[0-9a-f]{2}$|^[0-9a-f]{12}$|^([0-9a-f]{4}\.){2}[0-9a-f]{4}$/.test(text.trim().toLowerCase())) return undefined;
  return hex.match(/../g)!.join(':');
}
const Mac = z.string({ error: RULE.mac }).transform((s, ctx) => {
  const m = normaliseMac(s);
  if (!m) { ctx.addIssue({ code: 'custom', message: RULE.mac }); return z.NEVER; }
  return m;
});

const Network = z.strictObject({
  /** Address of node 1; node N gets this plus N-1. */
  firstIp: Ip,
  netmask: Netmask.default(INSTALL_DEFAULTS.netmask),
});

export const InstallConfig = z.strictObject({
  /** Image in the library that the container's original is copied from. */
  baseImage: z.string({ error: NAME_RULES.image.rule }).regex(NAME_RULES.image.re, { error: NAME_RULES.image.rule }).default(INSTALL_DEFAULTS.baseImage),
  sharedRoot: z.string({ error: RULE.sharedRoot }).regex(/^(\/[A-Za-z0-9_][A-Za-z0-9._-]*)+$/, { error: RULE.sharedRoot }).default(INSTALL_DEFAULTS.sharedRoot),
  /** Name of this installation on shared storage: cluster/<container>/. */
  container: z.string({ error: NAME_RULES.cluster.rule }).regex(NAME_RULES.cluster.re, { error: NAME_RULES.cluster.rule }).default(INSTALL_DEFAULTS.container),
  /** How many nodes; defaults to the number of MACs listed. */
  nodeCount: z.number({ error: `must be a whole number from 1 to ${MAX_INSTALL_NODES}` }).int({ error: `must be a whole number from 1 to ${MAX_INSTALL_NODES}` })
    .min(1, { error: `must be a whole number from 1 to ${MAX_INSTALL_NODES}` }).max(MAX_INSTALL_NODES, { error: `must be a whole number from 1 to ${MAX_INSTALL_NODES}` }).optional(),
  sizes: z.strictObject({
    rootMb: Mb(512, 1_048_576, INSTALL_DEFAULTS.rootMb),
    swapMb: Mb(0, 262_144, INSTALL_DEFAULTS.swapMb),
    sharedMb: Mb(0, 16_777_216, INSTALL_DEFAULTS.sharedMb),
  }).prefault({}),
  hostnamePrefix: z.string({ error: RULE.hostnamePrefix }).regex(/^[a-z][a-z0-9-]{0,23}$/, { error: RULE.hostnamePrefix }).default(INSTALL_DEFAULTS.hostnamePrefix),
  network: z.strictObject({
    boot: Network,
    /** Omitted: storage travels on the boot network (the report's one-network case). */
    storage: Network.optional(),
    /** The floating address that serves every root; default the .252 of the storage network. */
    storageIp: Ip.optional(),
    /** Interface and modules for the boot line's sif/sifm; omitted: the initrd uses the boot interface. */
    interface: z.string({ error: 'must be an interface name like eth0' }).regex(/^[A-Za-z][A-Za-z0-9_.:-]{0,14}$/, { error: 'must be an interface name like eth0' }).optional(),
    modules: z.array(z.string().regex(/^[A-Za-z0-9_-]{1,56}$/, { error: 'must be a kernel module name' })).default([]),
  }, { error: 'must give network.boot.firstIp' }),
  gateway: z.strictObject({
    /** Boot-network addresses of the primary and backup gateway nodes. */
    primary: Ip.optional(),
    backup: Ip.optional(),
    /** The address that moves between them; default the .253 of the boot network. */
    spare: Ip.optional(),
    public: z.strictObject({ ip: Ip, netmask: Netmask, router: Ip }).optional(),
    dns: z.array(Ip).default([]),
    domain: z.string({ error: RULE.domain }).regex(DOMAIN_RE, { error: RULE.domain }).optional(),
  }).prefault({}),
  /** Node N is the N-th entry: its MAC and, optionally, a host name other than PREFIXN. */
  nodes: z.array(z.strictObject({
    mac: Mac,
    hostname: z.string({ error: NAME_RULES.node.rule }).regex(NAME_RULES.node.re, { error: NAME_RULES.node.rule }).optional(),
  })).max(MAX_INSTALL_NODES, { error: `must list at most ${MAX_INSTALL_NODES} nodes` }).default([]),
  sshKeys: z.array(z.string({ error: RULE.sshKey }).regex(SSH_KEY_RE, { error: RULE.sshKey }), { error: 'must be a list of OpenSSH public keys' })
    .min(1, { error: 'must list at least one SSH public key: nodes have no root password' }),
});
export type InstallConfig = z.output<typeof InstallConfig>;
export type InstallConfigInput = z.input<typeof InstallConfig>;

/** What only the cluster knows, gathered by the service before validating. */
export interface InstallFacts {
  /** Free space on shared storage, in MB. */
  freeMb?: number;
  /** Containers on shared storage that belong to another installation. */
  containersInUse?: string[];
  /** Addresses already used on the boot network (namespace nodes, the host…), with what uses them. */
  takenAddresses?: { address: string; label: string }[];
  /** Images on shared storage (`images/<name>.qcow2`), each with whether it has the kernel and initrd a node boots. */
  images?: { name: string; bootable: boolean }[];
}

export interface FieldError { path: string; rule: string }

export interface PlannedNode {
  ordinal: number;
  hostname: string;
  mac: string;
  bootIp: string;
  storageIp: string;
  /** The NBD export (boot line `ivid`) of this node's root overlay. */
  exportName: string;
}

/** The config with every derived default filled in: what the workflow acts on. */
export interface InstallPlan {
  config: InstallConfig;
  bootNetwork: string;
  storageNetwork: string;
  bootNetmask: string;
  storageNetmask: string;
  storageIp: string;
  spare: string;
  primary: string;
  backup: string;
  nodes: PlannedNode[];
}

export type InstallValidation = { ok: true; plan: InstallPlan } | { ok: false; errors: FieldError[] };

export const formatFieldError = (e: FieldError) => `${e.path}: ${e.rule}`;

/**
 * The base image must be on shared storage with a kernel and an initrd to boot a node from:
 * the rule of both the wizard's check (install.validate) and the install's preflight.
 */
export function baseImageError(baseImage: string, images: { name: string; bootable: boolean }[], sharedRoot: string): FieldError | undefined {
  const img = images.find((i) => i.name === baseImage);
  if (!img) {
    return { path: 'baseImage', rule: `image "${baseImage}" is not on shared storage (${sharedRoot}/images): build it (\`vlx image build ${INSTALL_DEFAULTS.baseImage}\`) or import it first` };
  }
  if (!img.bootable) return { path: 'baseImage', rule: `image "${baseImage}" has no kernel and initrd to boot a node from: build a node image (\`vlx image build ${INSTALL_DEFAULTS.baseImage}\`)` };
  return undefined;
}

function isNetmask(s: unknown): boolean {
  if (typeof s !== 'string' || !IPV4_RE.test(s)) return false;
  const inv = (~ipInt(s)) >>> 0;
  return (inv & (inv + 1)) === 0;
}
const ipInt = (s: string) => s.split('.').reduce((a, o) => a * 256 + Number(o), 0);
const prefixOf = (mask: string) => 32 - Math.log2(((~ipInt(mask)) >>> 0) + 1);

function zodErrors(error: z.ZodError): FieldError[] {
  return error.issues.map((i) => {
    const path = i.path.map(String).join('.');
    if (i.code === 'unrecognized_keys') {
      const key = i.keys[0]!;
      const rule = key === 'rootPassword' ? 'is not supported: nodes are reached with SSH keys only' : 'is not a setting of the install';
      return { path: path ? `${path}.${key}` : key, rule };
    }
    return { path: path || '(config)', rule: i.message };
  });
}

/** Schema, then the rules across fields (only once every field is well formed on its own). */
export function validateInstallConfig(raw: unknown, facts: InstallFacts = {}): InstallValidation {
  const parsed = InstallConfig.safeParse(raw ?? {});
  if (!parsed.success) return { ok: false, errors: zodErrors(parsed.error) };
  const c = parsed.data;
  const errors: FieldError[] = [];
  const err = (path: string, rule: string) => errors.push({ path, rule });

  const count = c.nodeCount ?? c.nodes.length;
  if (count === 0) err('nodes', 'must list at least one node (its MAC address)');
  if (c.nodeCount !== undefined && c.nodes.length !== c.nodeCount) {
    err('nodes', `must list nodeCount (${c.nodeCount}) MAC addresses; ${c.nodes.length} given`);
  }

  const net = (n: { firstIp: string; netmask: string }) => {
    const prefix = prefixOf(n.netmask);
    const base = ipInt(n.firstIp) - (ipInt(n.firstIp) % blockSize(prefix));
    return { base, prefix, last: base + blockSize(prefix) - 1, text: `${intToIp(base)}/${prefix}` };
  };
  const boot = net(c.network.boot);
  const storage = c.network.storage ? net(c.network.storage) : boot;
  const inside = (ip: string, n: typeof boot) => ipInt(ip) > n.base && ipInt(ip) < n.last;
  const hostOf = (n: typeof boot, h: { inSlash24: number; fromEnd: number }) => intToIp(n.base + (n.prefix <= 24 ? h.inSlash24 : blockSize(n.prefix) - h.fromEnd));

  // Node ranges: first address plus N-1, all usable hosts of their network.
  const bootFirst = ipInt(c.network.boot.firstIp);
  const storFirst = ipInt((c.network.storage ?? c.network.boot).firstIp);
  const rangeOk = (first: number, n: typeof boot, path: string) => {
    if (first <= n.base || first >= n.last) { err(path, `must be a host address of ${n.text}`); return false; }
    if (first + count - 1 >= n.last) { err(path, `${count} nodes from ${intToIp(first)} run past the end of ${n.text}`); return false; }
    return true;
  };
  const bootOk = rangeOk(bootFirst, boot, 'network.boot.firstIp');
  const storOk = c.network.storage ? rangeOk(storFirst, storage, 'network.storage.firstIp') : bootOk;
  if (c.network.storage && boot.base <= storage.last && storage.base <= boot.last) {
    err('network.storage', `must be a network apart from the boot network ${boot.text} (omit it to use one network)`);
  }

  const storageIp = c.network.storageIp ?? hostOf(storage, INSTALL_DEFAULTS.storageHost);
  const spare = c.gateway.spare ?? hostOf(boot, INSTALL_DEFAULTS.spareHost);
  const inBootRange = (ip: string) => ipInt(ip) >= bootFirst && ipInt(ip) < bootFirst + count;
  const inStorRange = (ip: string) => ipInt(ip) >= storFirst && ipInt(ip) < storFirst + count;
  const nodeRange = `the node range ${intToIp(bootFirst)}-${intToIp(bootFirst + Math.max(count, 1) - 1)}`;

  if (!inside(storageIp, storage)) err('network.storageIp', `must be a host address of the storage network ${storage.text}`);
  else if (storOk && inStorRange(storageIp)) err('network.storageIp', `must not be in ${c.network.storage ? 'the storage node range' : nodeRange}`);
  if (!inside(spare, boot)) err('gateway.spare', `must be a host address of the boot network ${boot.text}`);
  else if (bootOk && inBootRange(spare)) err('gateway.spare', `must not be in ${nodeRange}`);
  else if (!c.network.storage && spare === storageIp) err('gateway.spare', 'must not be the storage address (network.storageIp)');

  const primary = c.gateway.primary ?? intToIp(bootFirst);
  const backup = c.gateway.backup ?? intToIp(bootFirst + (count > 1 ? 1 : 0));
  for (const [path, ip] of [['gateway.primary', primary], ['gateway.backup', backup]] as const) {
    if (!inside(ip, boot)) err(path, `must be a host address of the boot network ${boot.text}`);
    else if (ip === spare) err(path, 'must not be the spare address (gateway.spare): that one moves between primary and backup');
    else if (ip === storageIp) err(path, 'must not be the storage address (network.storageIp)');
  }
  if (primary === backup && count > 1) err('gateway.backup', 'must differ from gateway.primary');
  if (c.gateway.public) {
    const p = c.gateway.public;
    const pn = net({ firstIp: p.ip, netmask: p.netmask });
    if (!inside(p.ip, pn)) err('gateway.public.ip', `must be a host address of ${pn.text}`);
    if (!inside(p.router, pn)) err('gateway.public.router', `must be in the public network ${pn.text}`);
    else if (p.router === p.ip) err('gateway.public.router', 'must not be the public address itself');
    if (pn.base <= boot.last && boot.base <= pn.last) err('gateway.public', `must be a network apart from the boot network ${boot.text}`);
  }

  const seenMac = new Map<string, number>();
  const seenName = new Map<string, number>();
  const nodes: PlannedNode[] = [];
  c.nodes.forEach((n, i) => {
    const prev = seenMac.get(n.mac);
    if (prev !== undefined) err(`nodes.${i}.mac`, `duplicates the MAC of nodes.${prev} (${n.mac})`);
    else seenMac.set(n.mac, i);
    const hostname = n.hostname ?? `${c.hostnamePrefix}${i + 1}`;
    const prevName = seenName.get(hostname);
    if (prevName !== undefined) err(`nodes.${i}.hostname`, `duplicates the host name of nodes.${prevName} (${hostname})`);
    else seenName.set(hostname, i);
    nodes.push({
      ordinal: i + 1, hostname, mac: n.mac,
      bootIp: intToIp(bootFirst + i), storageIp: intToIp(storFirst + i), exportName: nodeExportName(c.container, i + 1),
    });
  });

  for (const t of facts.takenAddresses ?? []) {
    if (bootOk && inBootRange(t.address)) err('network.boot.firstIp', `${nodeRange} includes ${t.address}, already used by ${t.label}`);
    if (c.network.storage && storOk && inStorRange(t.address)) err('network.storage.firstIp', `the storage node range includes ${t.address}, already used by ${t.label}`);
    if (t.address === spare && c.gateway.spare !== undefined) err('gateway.spare', `${spare} is already used by ${t.label}`);
    if (t.address === storageIp) err('network.storageIp', `${storageIp} is already used by ${t.label}`);
  }
  if (facts.containersInUse?.includes(c.container)) {
    err('container', `"${c.container}" is already used by another installation on ${c.sharedRoot}: choose another name`);
  }
  if (facts.images) {
    const e = baseImageError(c.baseImage, facts.images, c.sharedRoot);
    if (e) errors.push(e);
  }
  if (facts.freeMb !== undefined) {
    const need = count * (c.sizes.rootMb + c.sizes.swapMb) + c.sizes.sharedMb;
    if (need > facts.freeMb) {
      err('sizes', `${count} × (${c.sizes.rootMb} + ${c.sizes.swapMb}) MB + ${c.sizes.sharedMb} MB = ${need} MB is above the ${facts.freeMb} MB free on ${c.sharedRoot}`);
    }
  }
  if (errors.length > 0) return { ok: false, errors };
  return {
    ok: true,
    plan: {
      config: c, bootNetwork: boot.text, storageNetwork: storage.text,
      bootNetmask: c.network.boot.netmask, storageNetmask: (c.network.storage ?? c.network.boot).netmask,
      storageIp, spare, primary, backup, nodes,
    },
  };
}
