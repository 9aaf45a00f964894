/**
 * What every node of a real cluster must have installed. The README lists this table and
 * `vlx nodes` reports which of these each node has.
 */
export interface NodeTool {
  /** Short name shown in `vlx nodes` and its JSON. */
  name: string;
  /** A command looked up on the node's PATH, or an absolute path pattern (a shell glob). */
  check: { command: string } | { glob: string };
  /** Debian/Ubuntu package providing it. */
  debianPackage: string;
  why: string;
}

export const NODE_TOOLS: readonly NodeTool[] = [
  { name: 'qemu-system-x86_64', check: { command: 'qemu-system-x86_64' }, debianPackage: 'qemu-system-x86', why: 'runs the virtual machines (KVM, or TCG where KVM is unusable)' },
  { name: 'qemu-img', check: { command: 'qemu-img' }, debianPackage: 'qemu-utils', why: 'creates copy-on-write volumes (qcow2 overlays of templates)' },
  { name: 'ip', check: { command: 'ip' }, debianPackage: 'iproute2', why: 'taps, bridges and the per-VM routes' },
  { name: 'nft', check: { command: 'nft' }, debianPackage: 'nftables', why: 'insulation between virtual clusters, gateway NAT' },
  { name: 'dnsmasq', check: { command: 'dnsmasq' }, debianPackage: 'dnsmasq-base', why: 'replicated DHCP (static MAC to IP map), TFTP and caching DNS' },
  { name: 'keepalived', check: { command: 'keepalived' }, debianPackage: 'keepalived', why: 'the gateway address with primary/backup take-over' },
  { name: 'nfs-ganesha', check: { glob: '/usr/lib/*/ganesha/libfsalvfs.so*' }, debianPackage: 'nfs-ganesha nfs-ganesha-vfs', why: 'serves each virtual cluster\'s shared storage to its VMs over NFSv3 (user space)' },
  { name: 'rpcbind', check: { command: 'rpcbind' }, debianPackage: 'rpcbind', why: 'the RPC port registry the NFS server registers with' },
  { name: 'mkfs.vfat', check: { command: 'mkfs.vfat' }, debianPackage: 'dosfstools', why: 'writes the cloud-init seed volume of Debian and cloud-image VMs' },
  { name: 'mcopy', check: { command: 'mcopy' }, debianPackage: 'mtools', why: 'fills the seed volume without mounting it' },
  { name: 'socat', check: { command: 'socat' }, debianPackage: 'socat', why: 'helper for unix-socket plumbing on the node' },
  { name: 'postgres', check: { glob: '/usr/lib/postgresql/*/bin/postgres' }, debianPackage: 'postgresql', why: 'the cluster database (on the nodes chosen for it)' },
];
