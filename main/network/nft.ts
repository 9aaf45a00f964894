import { invalid } from '../errors.js';
import { checkName, isIPv4 } from '../util/names.js';
import { cidrContains, formatCidr, ipToInt, parseCidr } from '../domain/subnet.js';
import { gatewayIp } from '../domain/addressing.js';
import { MOUNT_PORT, NFS_PORT } from '../images/sharedMount.js';

/**
 * The firewall of one node, as one `nft -f` file. Two tables named vlx:
 *
 * - `inet vlx`: a prerouting chain with the anti-spoofing rules of each tap on this node
 *   (wrong Ethernet source, any IPv6, or an IPv4 source other than the VM's own: drop),
 *   and a forward chain that drops traffic from one VC's subnet to any other VC's subnet.
 *   Insulation covers every VC of the cluster, not only those with VMs here, because a
 *   node also forwards for VMs it does not host.
 * - What a VM may reach of the node it runs on and of the cluster (`guard`): its gateway's
 *   DHCP, DNS and NTP (DNS and NTP are redirected to the node's own address, where dnsmasq
 *   and chronyd listen), NFS on the gateway (its share: Ganesha admits only the VC's
 *   subnet), ping of the gateway, and nothing else on the node; nothing of the cluster
 *   network (the nodes' sshd, PostgreSQL, etcd, Patroni, NBD roots, the bridge's host, the
 *   VIP, the gateway's public address) except replies to what those started. The outside,
 *   through the gateway's NAT, and its own VC stay open.
 * - `arp vlx`: ARP from a tap must carry the VM's own MAC and IPv4 address, so a VM
 *   cannot poison its node's neighbour table for another VM's address.
 *
 * The file first creates each table (a no-op if it exists) and deletes it, then defines it
 * afresh. nft applies a file as one transaction, so applying it is atomic and idempotent:
 * the node never runs with half a ruleset and re-applying gives the same state.
 */
export interface NftVc {
  name: string;
  subnet: string;
}

export interface NftVm {
  vc: string;
  ip: string;
  mac: string;
  tap: string;
}

/** The node's management plane, which its VMs must not reach. */
export interface NftGuard {
  /** The cluster's own networks: every node's management address, the VIP, the bridge. */
  managementNetworks: readonly string[];
  /** This node's address, where its dnsmasq and chronyd listen. */
  nodeAddress: string;
  /**
   * The gateway's public address: the VIP holder's own address on the public side, where its
   * sshd answers too. Guarded like a management address; the rest of the outside stays open.
   */
  publicAddresses?: readonly string[];
}

export interface NodeFirewall {
  /** Every VC of the cluster that has a subnet. */
  vcs: readonly NftVc[];
  /** The VMs whose taps are on this node. */
  vms: readonly NftVm[];
  guard: NftGuard;
}

/** Every VM tap is named vt + 8 hex digits (domain/addressing tapName): one wildcard covers taps not in the DB yet. */
const ANY_TAP = '"vt*"';
export const DNS_PORT = 53;
export const NTP_PORT = 123;
export const DHCP_SERVER_PORT = 67;

export const NFT_TABLE = 'vlx';

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
const TAP = /^[A-Za-z0-9_.-]{1,15}$/;

const RESET = [
  `table inet ${NFT_TABLE} {}`,
  `delete table inet ${NFT_TABLE}`,
  `table arp ${NFT_TABLE} {}`,
  `delete table arp ${NFT_TABLE}`,
];

/** An `nft -f` file that removes both tables, whether or not they exist. */
export function renderNftRemoval(): string {
  return `${RESET.join('\n')}\n`;
}

export function renderNodeFirewall(fw: NodeFirewall): string {
  const subnets = new Map<string, ReturnType<typeof parseCidr>>();
  for (const vc of fw.vcs) {
    checkName('vc', vc.name, 'VC name');
    if (subnets.has(vc.name)) throw invalid('VC name', 'must appear once', vc.name);
    subnets.set(vc.name, parseCidr(vc.subnet, `subnet of ${vc.name}`));
  }
  const taps = new Set<string>();
  for (const vm of fw.vms) {
    const net = subnets.get(vm.vc);
    if (!net) throw invalid('VM VC', 'must be one of the VCs given', vm.vc);
    if (!isIPv4(vm.ip) || !cidrContains(net, ipToInt(vm.ip))) {
      throw invalid('VM address', `must be an IPv4 address inside ${formatCidr(net)}`, vm.ip);
    }
    if (!MAC.test(vm.mac)) throw invalid('VM MAC', 'must be six lowercase hex pairs joined by ":"', vm.mac);
    if (!TAP.test(vm.tap)) throw invalid('tap name', 'must be 1-15 chars of letters, digits, ".", "_" or "-"', vm.tap);
    if (taps.has(vm.tap)) throw invalid('tap name', 'must be unique on a node', vm.tap);
    taps.add(vm.tap);
  }

  const mgmt = fw.guard.managementNetworks.map((n, i) => parseCidr(n, `management network ${i + 1}`));
  if (mgmt.length === 0) throw invalid('management networks', 'must name at least the cluster network', []);
  const node = fw.guard.nodeAddress;
  if (!isIPv4(node) || !mgmt.some((m) => cidrContains(m, ipToInt(node)))) {
    throw invalid('node address', `must be an IPv4 address inside a management network (${mgmt.map(formatCidr).join(', ')})`, node);
  }
  // A public address inside a management network is covered already (nft refuses overlapping intervals).
  const publics = (fw.guard.publicAddresses ?? []).map((a, i) => {
    if (typeof a !== 'string' || !isIPv4(a)) throw invalid(`public address ${i + 1}`, 'must be an IPv4 address', a);
    return { base: ipToInt(a), prefix: 32 };
  }).filter((p) => !mgmt.some((m) => cidrContains(m, p.base)));
  const mgmtNets = [...new Set([...mgmt, ...publics].sort((a, b) => a.base - b.base).map(formatCidr))];
  const nets = [...subnets.values()].sort((a, b) => a.base - b.base).map(formatCidr);
  const gateways = nets.map((n) => gatewayIp(n)).sort((a, b) => ipToInt(a) - ipToInt(b));
  const vms = [...fw.vms].sort((a, b) => ipToInt(a.ip) - ipToInt(b.ip));

  const lines: string[] = [
    '# VirtuaLinux Manager: VC insulation and anti-spoofing for this node. Generated: edit the VCs, not this file.',
    ...RESET,
    `table inet ${NFT_TABLE} {`,
    '\tset vc_nets {',
    '\t\ttype ipv4_addr',
    '\t\tflags interval',
    ...(nets.length > 0 ? [`\t\telements = { ${nets.join(', ')} }`] : []),
    '\t}',
    '',
    '\tset mgmt_nets {',
    '\t\ttype ipv4_addr',
    '\t\tflags interval',
    `\t\telements = { ${mgmtNets.join(', ')} }`,
    '\t}',
    '',
    '\tset vc_gateways {',
    '\t\ttype ipv4_addr',
    ...(gateways.length > 0 ? [`\t\telements = { ${gateways.join(', ')} }`] : []),
    '\t}',
    '',
    '\tchain prerouting {',
    '\t\ttype filter hook prerouting priority raw; policy accept;',
  ];
  for (const vm of vms) {
    const tap = `"${vm.tap}"`;
    lines.push(
      `\t\tiifname ${tap} ether saddr != ${vm.mac} drop`,
      `\t\tiifname ${tap} meta nfproto != ipv4 drop`,
      `\t\tiifname ${tap} ip saddr != ${vm.ip} drop`,
    );
  }
  lines.push(
    '\t}',
    '',
    // The gateway's DNS and NTP answer on the node's own address: the gateway address is on
    // every tap at once, where no daemon can bind it.
    '\tchain dstnat {',
    '\t\ttype nat hook prerouting priority dstnat; policy accept;',
    `\t\tiifname ${ANY_TAP} ip daddr @vc_gateways meta l4proto { tcp, udp } th dport ${DNS_PORT} dnat ip to ${node}`,
    `\t\tiifname ${ANY_TAP} ip daddr @vc_gateways udp dport ${NTP_PORT} dnat ip to ${node}`,
    '\t}',
    '',
    '\tchain input {',
    '\t\ttype filter hook input priority filter; policy accept;',
    `\t\tiifname ${ANY_TAP} ct state established,related accept`,
    `\t\tiifname ${ANY_TAP} udp dport ${DHCP_SERVER_PORT} accept`,
    `\t\tiifname ${ANY_TAP} ct status dnat ip daddr ${node} meta l4proto { tcp, udp } th dport { ${DNS_PORT}, ${NTP_PORT} } accept`,
    `\t\tiifname ${ANY_TAP} ip daddr @vc_gateways tcp dport { ${NFS_PORT}, ${MOUNT_PORT} } accept`,
    `\t\tiifname ${ANY_TAP} ip daddr @vc_gateways icmp type echo-request accept`,
    `\t\tiifname ${ANY_TAP} drop`,
    '\t}',
    '',
    '\tchain forward {',
    '\t\ttype filter hook forward priority filter; policy accept;',
    // Replies to what a node or the workstation started towards a VM pass; nothing else does.
    `\t\tip saddr @vc_nets ip daddr @mgmt_nets ct state established,related accept`,
    `\t\tip saddr @vc_nets ip daddr @mgmt_nets drop`,
    `\t\tiifname ${ANY_TAP} ip daddr @mgmt_nets drop`,
  );
  for (const net of nets) lines.push(`\t\tip saddr ${net} ip daddr @vc_nets ip daddr != ${net} drop`);
  lines.push(
    '\t}',
    '}',
    `table arp ${NFT_TABLE} {`,
    '\tchain input {',
    '\t\ttype filter hook input priority filter; policy accept;',
  );
  for (const vm of vms) {
    const tap = `"${vm.tap}"`;
    lines.push(
      `\t\tiifname ${tap} arp saddr ether != ${vm.mac} drop`,
      `\t\tiifname ${tap} arp saddr ip != ${vm.ip} drop`,
    );
  }
  lines.push('\t}', '}');
  return `${lines.join('\n')}\n`;
}
