import { invalid } from '../errors.js';
import { checkName, isIPv4 } from '../util/names.js';
import { cidrContains, formatCidr, ipToInt, parseCidr } from '../domain/subnet.js';

/**
 * The firewall of one node, as one `nft -f` file. Two tables named vlx:
 *
 * - `inet vlx`: a prerouting chain with the anti-spoofing rules of each tap on this node
 *   (wrong Ethernet source, any IPv6, or an IPv4 source other than the VM's own: drop),
 *   and a forward chain that drops traffic from one VC's subnet to any other VC's subnet.
 *   Insulation covers every VC of the cluster, not only those with VMs here, because a
 *   node also forwards for VMs it does not host.
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

export interface NodeFirewall {
  /** Every VC of the cluster that has a subnet. */
  vcs: readonly NftVc[];
  /** The VMs whose taps are on this node. */
  vms: readonly NftVm[];
}

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

  const nets = [...subnets.values()].sort((a, b) => a.base - b.base).map(formatCidr);
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
    '\tchain forward {',
    '\t\ttype filter hook forward priority filter; policy accept;',
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
