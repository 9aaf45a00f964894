import { VlxError, invalid } from '../errors.js';
import { isIPv4 } from '../util/names.js';

/**
 * IPv4 CIDR arithmetic and the choice of a VC's private subnet. Addresses are kept as
 * unsigned 32-bit numbers so containment and overlap are plain integer comparisons.
 */
export interface Cidr {
  /** Network address as an unsigned 32-bit integer (host bits zero). */
  base: number;
  prefix: number;
}

/** Something already using address space: a bare CIDR, or one with a label for messages. */
export type Claim = string | { cidr: string; label: string };

export const DEFAULT_VC_POOL = '10.200.0.0/16';
export const PRIVATE_RANGES = ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16'] as const;
/** Smallest and largest VC subnet a person may ask for with --subnet. */
export const SUBNET_PREFIX_MIN = 16;
export const SUBNET_PREFIX_MAX = 28;
/** What `--subnet auto` hands out when the VC fits in it. */
export const AUTO_PREFIX = 24;

const OCTET = '(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const IPV4_RE = new RegExp(`^${OCTET}\\.${OCTET}\\.${OCTET}\\.${OCTET}$`);
const CIDR_RE = new RegExp(`^(${OCTET}\\.${OCTET}\\.${OCTET}\\.${OCTET})/(3[0-2]|[12]?\\d)$`);

export function ipToInt(ip: string, field = 'address'): number {
  if (!IPV4_RE.test(ip)) throw invalid(field, 'must be an IPv4 address like 10.200.0.2', ip);
  return ip.split('.').reduce((n, o) => n * 256 + Number(o), 0);
}

export function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** Number of addresses in a block of this prefix length. */
export function blockSize(prefix: number): number {
  return 2 ** (32 - prefix);
}

export function cidrLast(c: Cidr): number {
  return c.base + blockSize(c.prefix) - 1;
}

/**
 * Strict parse: a.b.c.d/p with the host bits zero. A CIDR with host bits set is refused with
 * the network it probably meant, because silently masking hides typos like 10.200.3.1/24.
 */
export function parseCidr(text: string, field = 'subnet'): Cidr {
  if (typeof text !== 'string' || !CIDR_RE.test(text)) {
    throw invalid(field, 'must be an IPv4 CIDR like 10.200.3.0/24', text);
  }
  const [ip, p] = text.split('/');
  const prefix = Number(p);
  const addr = ipToInt(ip, field);
  const base = addr - (addr % blockSize(prefix));
  if (base !== addr) {
    throw invalid(field, `has host bits set; the network is ${intToIp(base)}/${prefix}`, text);
  }
  return { base, prefix };
}

export function formatCidr(c: Cidr): string {
  return `${intToIp(c.base)}/${c.prefix}`;
}

/** Does `outer` contain the whole of `inner` (a CIDR or a single address)? */
export function cidrContains(outer: Cidr, inner: Cidr | number): boolean {
  const lo = typeof inner === 'number' ? inner : inner.base;
  const hi = typeof inner === 'number' ? inner : cidrLast(inner);
  return lo >= outer.base && hi <= cidrLast(outer);
}

export function cidrOverlaps(a: Cidr, b: Cidr): boolean {
  return a.base <= cidrLast(b) && b.base <= cidrLast(a);
}

export function isPrivate(c: Cidr): boolean {
  return PRIVATE_RANGES.some((r) => cidrContains(parseCidr(r), c));
}

/**
 * VMs a subnet can hold: every address except the network and broadcast addresses and
 * the first host, which is the VC's gateway (see addressing.ts).
 */
export function vmCapacity(prefix: number): number {
  return Math.max(0, blockSize(prefix) - 3);
}

/** The longest prefix not above `AUTO_PREFIX` whose subnet holds `vmCount` VMs. */
export function autoPrefixFor(vmCount: number): number {
  let p = AUTO_PREFIX;
  while (p > 0 && vmCapacity(p) < vmCount) p--;
  return p;
}

/**
 * The rules a requested --subnet must meet whatever else exists: a private /16../28 with
 * room for `vmCount` VMs and the gateway.
 */
export function checkRequestedSubnet(requested: string, vmCount: number): Cidr {
  const want = parseCidr(requested, 'subnet');
  if (!isPrivate(want)) {
    throw invalid('subnet', `must lie inside a private range (${PRIVATE_RANGES.join(', ')})`, requested);
  }
  if (want.prefix < SUBNET_PREFIX_MIN || want.prefix > SUBNET_PREFIX_MAX) {
    throw invalid('subnet', `must be a /${SUBNET_PREFIX_MIN} to /${SUBNET_PREFIX_MAX}`, requested);
  }
  if (vmCapacity(want.prefix) < vmCount) {
    throw invalid('subnet',
      `a /${want.prefix} has room for ${vmCapacity(want.prefix)} VMs besides the gateway; ${vmCount} needed`, requested);
  }
  return want;
}

interface ParsedClaim { cidr: Cidr; text: string; label?: string }

function parseClaims(claims: readonly Claim[], field: string): ParsedClaim[] {
  return claims.map((c) => {
    const text = typeof c === 'string' ? c : c.cidr;
    return { cidr: parseCidr(text, field), text, label: typeof c === 'string' ? undefined : c.label };
  });
}

function describe(c: ParsedClaim): string {
  return c.label ? `${c.text} (${c.label})` : c.text;
}

/**
 * Choose the private subnet of a new VC.
 *
 * - `auto`: the first /24 of `pool` (in address order) that overlaps nothing taken or
 *   reserved; a VC too big for a /24 gets the smallest aligned block that holds it.
 * - a CIDR: must be private, a /16../28 with room for `vmCount` VMs plus the gateway, and
 *   overlap neither a reserved network (the cluster network: `invalid-input`) nor another
 *   VC's subnet (`conflict`). It need not lie inside the pool.
 *
 * `taken` are the subnets of existing VCs; `reserved` the networks no VC may use.
 */
export function allocateSubnet(
  pool: string,
  taken: readonly Claim[],
  reserved: readonly Claim[],
  requested: string = 'auto',
  vmCount = 1,
): string {
  const poolCidr = parseCidr(pool, 'vcSubnetPool');
  const takenC = parseClaims(taken, 'taken subnet');
  const reservedC = parseClaims(reserved, 'reserved network');

  if (requested !== 'auto') {
    const want = checkRequestedSubnet(requested, vmCount);
    const r = reservedC.find((c) => cidrOverlaps(c.cidr, want));
    if (r) throw invalid('subnet', `must not overlap ${describe(r)}`, requested);
    const t = takenC.find((c) => cidrOverlaps(c.cidr, want));
    if (t) {
      throw new VlxError('conflict', `subnet: ${requested} overlaps ${describe(t)}, the subnet of another VC`,
        'choose another subnet or use --subnet auto');
    }
    return formatCidr(want);
  }

  const prefix = autoPrefixFor(vmCount);
  if (prefix < poolCidr.prefix) {
    throw new VlxError('conflict', `subnet: a VC of ${vmCount} VMs needs a /${prefix}, larger than the pool ${pool}`);
  }
  const size = blockSize(prefix);
  const used = [...takenC, ...reservedC].map((c) => c.cidr);
  for (let base = poolCidr.base; base + size - 1 <= cidrLast(poolCidr); base += size) {
    const cand = { base, prefix };
    // Jump past the blocking claim instead of testing every block it covers.
    const hit = used.find((u) => cidrOverlaps(u, cand));
    if (!hit) return formatCidr(cand);
    const nextFree = Math.ceil((cidrLast(hit) + 1) / size) * size;
    base = Math.max(base, nextFree - size);
  }
  throw new VlxError('conflict', `subnet: no free /${prefix} left in pool ${pool} (${takenC.length} VC subnets taken)`,
    'destroy a VC, enlarge vcSubnetPool in the manifest or give --subnet explicitly');
}

/** A dotted netmask of contiguous ones (255.255.255.0), or a prefix length written "/24" or 24. */
export function netmaskPrefix(value: unknown, field: string): number {
  if (typeof value === 'number' || (typeof value === 'string' && /^\/?\d{1,2}$/.test(value))) {
    const n = typeof value === 'number' ? value : Number(value.replace('/', ''));
    if (!Number.isInteger(n) || n < 1 || n > 30) throw invalid(field, 'must be a prefix length from 1 to 30 or a netmask like 255.255.255.0', value);
    return n;
  }
  if (typeof value !== 'string' || !isIPv4(value)) throw invalid(field, 'must be a netmask like 255.255.255.0 (or a prefix length)', value);
  const m = ipToInt(value, field);
  const prefix = 32 - Math.log2(((~m) >>> 0) + 1);
  if (!Number.isInteger(prefix)) throw invalid(field, 'must be a netmask of contiguous ones, like 255.255.255.0', value);
  if (prefix < 1 || prefix > 30) throw invalid(field, 'must leave room for an address and a router (a /30 or larger), and not be 0.0.0.0', value);
  return prefix;
}
