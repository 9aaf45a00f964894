import { invalid } from '../errors.js';
import { isIPv4 } from '../util/names.js';
import { blockSize, cidrContains, cidrLast, cidrOverlaps, formatCidr, intToIp, ipToInt, netmaskPrefix, type Cidr } from '../domain/subnet.js';

/** Lives with the other address arithmetic; exported here too for the public side's callers. */
export { netmaskPrefix };

/**
 * The gateway's public side (the report's gateway: the public address floats with the
 * gateway role). The VIP holder carries the public address and routes the outside through
 * the public router; every other node routes outside-bound traffic to the VIP. Named as the
 * install config names it: gateway.public.ip, .netmask, .router.
 */
export interface PublicPlan {
  ip: string;
  prefix: number;
  /** The public network, e.g. 203.0.113.0/24. */
  network: string;
  router: string;
}

export interface PublicInput {
  ip?: unknown;
  netmask?: unknown;
  router?: unknown;
}

/**
 * Checks the public side against the cluster's own networks: the public address must be a
 * host of its network, the router in it and not the address itself, and the public network
 * apart from the cluster network and the VC pool (a VC subnet there would shadow the outside).
 */
export function planPublic(pub: PublicInput, reserved: { cidr: Cidr; field: string }[]): PublicPlan {
  if (typeof pub.ip !== 'string' || !isIPv4(pub.ip)) throw invalid('gateway.public.ip', 'must be an IPv4 address', pub.ip);
  const prefix = netmaskPrefix(pub.netmask, 'gateway.public.netmask');
  const ip = ipToInt(pub.ip, 'gateway.public.ip');
  const base = ip - (ip % blockSize(prefix));
  const net: Cidr = { base, prefix };
  const network = formatCidr(net);
  if (ip === base || ip === cidrLast(net)) throw invalid('gateway.public.ip', `must be a host address of ${network}, not its network or broadcast address`, pub.ip);
  if (typeof pub.router !== 'string' || !isIPv4(pub.router)) throw invalid('gateway.public.router', 'must be an IPv4 address', pub.router);
  const router = ipToInt(pub.router, 'gateway.public.router');
  if (!cidrContains(net, router) || router === cidrLast(net) || router === base) {
    throw invalid('gateway.public.router', `must be a host address of the public network ${network}`, pub.router);
  }
  if (router === ip) throw invalid('gateway.public.router', 'must not be the public address itself', pub.router);
  for (const r of reserved) {
    if (cidrOverlaps(net, r.cidr)) throw invalid('gateway.public', `must be a network apart from ${r.field} ${formatCidr(r.cidr)}`, network);
  }
  return { ip: intToIp(ip), prefix, network, router: intToIp(router) };
}
