import { NODE_LIB, NODE_RUN } from '../domain/nodePaths.js';
import type { NodePlan, ServicesPlan } from './plan.js';
import { renderStorageScript, renderStorageVrrp } from './storage.js';

/**
 * Config files of the master-less services, one set per node, from a checked plan. Pure:
 * the same plan always gives the same bytes, so a redeploy can tell "unchanged" by content.
 */

export const SERVICES_DIR = '/etc/virtualinux/services';
export const NAT_TABLE = 'vlx_gateway';
export const VRRP_INSTANCE = 'vlx_gateway';

export const servicePaths = {
  dir: SERVICES_DIR,
  dnsmasqConf: `${SERVICES_DIR}/dnsmasq.conf`,
  keepalivedConf: `${SERVICES_DIR}/keepalived.conf`,
  notifyScript: `${SERVICES_DIR}/gateway-notify.sh`,
  /** The root server of disk-less nodes: keepalived's notify script of the storage address. */
  storageScript: `${SERVICES_DIR}/storage-serve.sh`,
  natNft: `${SERVICES_DIR}/gateway-nat.nft`,
  chronyConf: `${SERVICES_DIR}/chrony.conf`,
  /** The node's default route before the first deploy with a public side: stop puts it back. */
  defaultRouteOrig: `${SERVICES_DIR}/default-route.orig`,
  /** What status and stop need to know without the manifest (VIP, interface). */
  stateJson: `${SERVICES_DIR}/services.json`,
  dnsmasqPid: `${NODE_RUN}/dnsmasq.pid`,
  dnsmasqLeases: `${NODE_RUN}/dnsmasq.leases`,
  dnsmasqLog: `${NODE_RUN}/dnsmasq.log`,
  keepalivedPid: `${NODE_RUN}/keepalived.pid`,
  keepalivedVrrpPid: `${NODE_RUN}/keepalived-vrrp.pid`,
  keepalivedLog: `${NODE_RUN}/keepalived.log`,
  /** Last VRRP state the notify script saw: MASTER, BACKUP, FAULT or STOP. */
  gatewayState: `${NODE_RUN}/gateway.state`,
  /** chronyd drops to its own user: its pid file, command socket and drift file live in dirs it owns. */
  chronyRunDir: `${NODE_RUN}/chrony`,
  chronyPid: `${NODE_RUN}/chrony/chronyd.pid`,
  chronySocket: `${NODE_RUN}/chrony/chronyd.sock`,
  chronyLibDir: `${NODE_LIB}/chrony`,
  chronyDrift: `${NODE_LIB}/chrony/drift`,
  /** dnsmasq re-reads the files here when they change: the network sync writes the VMs' names. */
  hostsDir: `${SERVICES_DIR}/hosts.d`,
} as const;

function header(node: string, comment = '#'): string {
  return `${comment} VirtuaLinux cluster services on ${node}: written by vlx services deploy; edits are overwritten`;
}

/** Own address first, then the nodes after it: clients spread over servers and survive one's loss. */
export function serversFor(plan: ServicesPlan, node: NodePlan, max = 3): string[] {
  const all = plan.addresses;
  const at = all.indexOf(node.address);
  return [node.address, ...all.slice(at + 1), ...all.slice(0, Math.max(at, 0))].slice(0, max);
}

/**
 * dnsmasq: DHCP only for the fixed map (`static` range, never authoritative: with several
 * servers answering, an authoritative one NAKs a client that chose another), TFTP from
 * shared storage, and a caching DNS on the node's own address.
 */
export function renderDnsmasqConf(plan: ServicesPlan, node: NodePlan): string {
  const suffix = (name: string) => (plan.domain ? `${name},${name}.${plan.domain}` : name);
  const lines = [
    header(node.name),
    `pid-file=${servicePaths.dnsmasqPid}`,
    `dhcp-leasefile=${servicePaths.dnsmasqLeases}`,
    `log-facility=${servicePaths.dnsmasqLog}`,
    // Only the node's own address: the VIP on the same interface belongs to whoever holds it.
    `listen-address=${node.address}`,
    'bind-interfaces',
    'domain-needed',
    'bogus-priv',
    'cache-size=1000',
    `hostsdir=${servicePaths.hostsDir}`,
    ...(plan.upstreamDns.length > 0 ? ['no-resolv', ...plan.upstreamDns.map((u) => `server=${u}`)] : []),
    ...(plan.domain ? [`domain=${plan.domain}`, `local=/${plan.domain}/`] : []),
    ...plan.dhcpHosts.map((h) => `host-record=${suffix(h.name)},${h.ip}`),
    `host-record=${suffix('gateway')},${plan.vip}`,
    `dhcp-range=${plan.network.split('/')[0]},static,${plan.netmask},${plan.leaseTime}`,
    `dhcp-option=option:router,${plan.vip}`,
    `dhcp-option=option:dns-server,${serversFor(plan, node).join(',')}`,
    ...(node.ntp ? [`dhcp-option=option:ntp-server,${serversFor(plan, node).join(',')}`] : []),
    ...plan.dhcpHosts.map((h) => `dhcp-host=${h.mac},${h.ip},${h.name}`),
    'enable-tftp',
    `tftp-root=${plan.tftpRoot}`,
    ...(plan.bootFile ? [`dhcp-boot=${plan.bootFile}`] : []),
  ];
  return lines.join('\n') + '\n';
}

/**
 * keepalived: one VRRP v3 instance for the gateway VIP. Every node starts as BACKUP and the
 * priorities elect the primary; unicast to the other nodes, so it works on networks that
 * drop multicast. 0.1 s adverts: a dead primary is replaced in well under a second.
 */
export function renderKeepalivedConf(plan: ServicesPlan, node: NodePlan): string {
  return [
    header(node.name),
    'global_defs {',
    `  router_id vlx_${node.name}`,
    '  vrrp_version 3',
    '  script_user root',
    '  enable_script_security',
    // 0.1 s adverts only hold on a busy node if the VRRP process may run at realtime priority.
    '  max_auto_priority',
    // Between the gratuitous ARPs of a burst (see garp_master_delay below).
    '  vrrp_garp_interval 0.3',
    '}',
    '',
    `vrrp_instance ${VRRP_INSTANCE} {`,
    '  state BACKUP',
    `  interface ${node.iface}`,
    `  virtual_router_id ${plan.routerId}`,
    `  priority ${node.priority}`,
    '  advert_int 0.1',
    // A neighbour entry refreshed less than a second ago ignores a gratuitous ARP (arp locktime),
    // so a burst at the take-over alone can leave the other nodes and the outside sending to
    // the dead holder until keepalived's second burst (5 s by default): spread the burst over
    // more than a second and repeat it after one.
    '  garp_master_delay 1',
    '  garp_master_repeat 5',
    `  unicast_src_ip ${node.address}`,
    '  unicast_peer {',
    ...node.peers.map((p) => `    ${p}`),
    '  }',
    '  virtual_ipaddress {',
    `    ${plan.vip}/${plan.prefix} dev ${node.iface}`,
    '  }',
    // Excluded: not in the adverts (peers need not agree on it), but keepalived adds it on
    // MASTER, removes it otherwise, and sends gratuitous ARP so the outside learns the new holder.
    ...(plan.public && node.publicIface
      ? ['  virtual_ipaddress_excluded {', `    ${plan.public.ip}/${plan.public.prefix} dev ${node.publicIface}`, '  }']
      : []),
    `  notify ${servicePaths.notifyScript}`,
    '}',
    '',
    renderStorageVrrp(plan.storage, {
      iface: node.iface, priority: node.storagePriority, address: node.address, peers: node.peers, prefix: plan.prefix, script: servicePaths.storageScript,
    }),
  ].join('\n');
}

/**
 * What the outside may start on the holder's public side: nothing. Only the NAT's return
 * traffic (and replies to what the holder itself started) gets in; sshd, the database, etcd,
 * Patroni, NFS or anything else listening on every address stays closed to the public network.
 * The public address is matched whatever link it is on; a public interface of its own (not
 * the cluster link) is closed as a whole. Forwarding is closed the same way, so the outside
 * cannot route into the VC networks through the holder (VC subnets never overlap the public
 * network: `vlx vc create` refuses one that does).
 */
function publicFilter(pub: NonNullable<ServicesPlan['public']>, node: NodePlan): string[] {
  const own = node.publicIface !== undefined && node.publicIface !== node.iface;
  const notReply = 'ct state new,invalid,untracked drop';
  return [
    '  chain public_input {',
    '    type filter hook input priority filter; policy accept;',
    `    ip daddr ${pub.ip} ${notReply}`,
    ...(own ? [`    iifname "${node.publicIface}" ${notReply}`] : []),
    '  }',
    '  chain public_forward {',
    '    type filter hook forward priority filter; policy accept;',
    `    ip saddr ${pub.network} ${notReply}`,
    ...(own ? [`    iifname "${node.publicIface}" ${notReply}`] : []),
    '  }',
  ];
}

/**
 * The gateway's NAT (and with a public side, its filter), loaded only on the VIP holder.
 * Created empty and deleted first, so loading it is atomic and idempotent (nft -f applies
 * the file as one transaction).
 */
export function renderNatNft(plan: ServicesPlan, node: NodePlan): string {
  const set = `{ ${plan.natSources.join(', ')} }`;
  // With a public side, whatever is routed to the public network (its router or a host on it)
  // from inside leaves with the public address: any VC subnet, in the pool or not, with no set
  // to keep in step with the VCs. The route's next hop tells it apart from traffic between
  // nodes and VMs, which may share the interface (a second address on the cluster link).
  // Without one, the sources are listed: what leaves the cluster link is masqueraded.
  const rule = plan.public && node.publicIface
    ? `ip saddr != ${plan.public.network} rt ip nexthop ${plan.public.network} oifname "${node.publicIface}" snat ip to ${plan.public.ip}`
    : `ip saddr ${set} ip daddr != ${set} oifname "${node.outIface}" masquerade`;
  return [
    header(node.name),
    `table ip ${NAT_TABLE} {}`,
    `delete table ip ${NAT_TABLE}`,
    `table ip ${NAT_TABLE} {`,
    '  chain postrouting {',
    '    type nat hook postrouting priority srcnat; policy accept;',
    `    ${rule}`,
    '  }',
    ...(plan.public && node.publicIface ? publicFilter(plan.public, node) : []),
    '}',
    '',
  ].join('\n');
}

/**
 * keepalived runs this on every state change with: TYPE NAME STATE PRIORITY. The holder of
 * the VIP forwards and NATs; every other state drops the NAT table. keepalived does not wait
 * for one run before the next, and two runs forked a few ms apart (MASTER then BACKUP, when
 * two backups both take over for a moment after the holder dies) may write their state in
 * either order: the last recorded state can be the wrong one, and a node left with the
 * public address and NAT that keepalived no longer gives it. So under a lock each run acts on
 * what is true then: keepalived adds the VIP before a MASTER run and removes it before any
 * other, so the node holds the VIP exactly when it is the holder, and the last run (after the
 * last change) sees the last word. With no VIP known, the state recorded last is used.
 */
export function renderNotifyScript(node: NodePlan, plan?: Pick<ServicesPlan, 'public' | 'vip'>): string {
  const pub = plan?.public && node.publicIface ? { ...plan.public, iface: node.publicIface } : undefined;
  return [
    '#!/bin/sh',
    header(node.name),
    `echo "$3" > ${servicePaths.gatewayState}`,
    `exec 9>${servicePaths.gatewayState}.lock`,
    'flock 9',
    ...(plan
      ? [
        `if ip -o -4 addr show dev ${node.iface} | grep -qF ' ${plan.vip}/'; then echo MASTER > ${servicePaths.gatewayState}`,
        `elif [ "$(cat ${servicePaths.gatewayState})" = MASTER ]; then echo BACKUP > ${servicePaths.gatewayState}; fi`,
      ]
      : []),
    `case "$(cat ${servicePaths.gatewayState})" in`,
    '  MASTER)',
    '    echo 1 > /proc/sys/net/ipv4/ip_forward',
    // keepalived adds the public address too; added here as well because a late run for an
    // earlier BACKUP may have deleted it after keepalived added it (this run is the last word).
    ...(pub
      ? [`    ip addr replace ${pub.ip}/${pub.prefix} dev ${pub.iface}`, `    ip route replace default via ${pub.router} dev ${pub.iface}`]
      : []),
    `    exec nft -f ${servicePaths.natNft} ;;`,
    '  *)',
    `    nft delete table ip ${NAT_TABLE} 2>/dev/null`,
    // Not the holder: no public address (no duplicate), and the outside is through the VIP.
    ...(pub && plan
      ? [`    ip addr del ${pub.ip}/${pub.prefix} dev ${pub.iface} 2>/dev/null`, `    ip route replace default via ${plan.vip} dev ${node.iface}`]
      : []),
    '    exit 0 ;;',
    'esac',
    '',
  ].join('\n');
}

/**
 * chrony, actively replicated: every node polls every other and serves the cluster and the
 * VCs; the manifest's upstream servers (lower stratum) win while they answer. Without them,
 * `orphan` makes the nodes agree among themselves: the one with the lowest reference id
 * serves its own clock at stratum 10 and every other node follows it; if it dies, the
 * others keep their frequency until the next lowest takes over (chrony's local distance).
 * Polls of 1-16 s among nodes: cheap on a cluster network and a lost peer is seen quickly.
 */
export function renderChronyConf(plan: ServicesPlan, node: NodePlan): string {
  return [
    header(node.name),
    ...plan.ntpUpstream.map((u) => `server ${u} iburst`),
    ...node.peers.map((p) => `server ${p} iburst minpoll 0 maxpoll 4`),
    'local stratum 10 orphan',
    ...plan.natSources.map((s) => `allow ${s}`),
    `bindaddress ${node.address}`,
    `driftfile ${servicePaths.chronyDrift}`,
    `pidfile ${servicePaths.chronyPid}`,
    // Status through a unix socket only (chronyc -h SOCKET); no command port on the network.
    `bindcmdaddress ${servicePaths.chronySocket}`,
    'cmdport 0',
    'makestep 1 3',
    '',
  ].join('\n');
}

/** Read back by status and stop, which do not get the manifest. */
export interface DeployedState {
  cluster: string;
  vip: string;
  prefix: number;
  iface: string;
  ntp: boolean;
  /** The public address as ip/prefix and its interface, if the gateway has a public side. */
  public?: string;
  publicIface?: string;
}

export function renderStateJson(plan: ServicesPlan, node: NodePlan): string {
  const s: DeployedState = {
    cluster: plan.cluster, vip: plan.vip, prefix: plan.prefix, iface: node.iface, ntp: node.ntp,
    ...(plan.public && node.publicIface ? { public: `${plan.public.ip}/${plan.public.prefix}`, publicIface: node.publicIface } : {}),
  };
  return JSON.stringify(s) + '\n';
}

export interface ConfigFile {
  path: string;
  mode: number;
  content: string;
}

/** Every file one node gets, in the order they are written. */
export function renderNodeFiles(plan: ServicesPlan, node: NodePlan): ConfigFile[] {
  return [
    { path: servicePaths.dnsmasqConf, mode: 0o644, content: renderDnsmasqConf(plan, node) },
    { path: servicePaths.natNft, mode: 0o644, content: renderNatNft(plan, node) },
    // keepalived's script security refuses a notify script others may write.
    { path: servicePaths.notifyScript, mode: 0o755, content: renderNotifyScript(node, plan) },
    { path: servicePaths.storageScript, mode: 0o755, content: renderStorageScript(plan.storage, header(node.name)) },
    { path: servicePaths.keepalivedConf, mode: 0o644, content: renderKeepalivedConf(plan, node) },
    ...(node.ntp ? [{ path: servicePaths.chronyConf, mode: 0o644, content: renderChronyConf(plan, node) }] : []),
    { path: servicePaths.stateJson, mode: 0o644, content: renderStateJson(plan, node) },
  ];
}
