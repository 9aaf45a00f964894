import { buildDebian, type DebianProfile } from './debian.js';
import type { BuildOptions, BuiltImage } from './tiny.js';
import { renderApplyConfigHook } from '../domain/nodeConfig.js';

/**
 * The original of a disk-less cluster node: the debian-12 builder with the node's packages
 * and an initrd that finds its root over the network from the report's boot parameters.
 *
 * Kernel: Debian's generic kernel, not the cloud one the VC guests use. The cloud kernel has
 * no e1000 (nor tg3, igb, …): a node boots on a real NIC, and in the lab on the e1000 that
 * runs iPXE. The report's own example line is `sifm=e1000`.
 *
 * The NBD client is qemu-nbd, run by the initrd: the kernel's /dev/nbd0 talks to it over a
 * local socket, and it talks to the storage address with `reconnect-delay`. When the node
 * serving the root dies, the requests in flight wait in qemu-nbd while the floating storage
 * address moves, and are sent again to the new server. The kernel's own client cannot do
 * that alone: in ioctl mode a dead socket ends NBD_DO_IT and the device's size is reset to
 * 0 (root gone), and its netlink reconnect needs a user-space daemon to hand it a new
 * socket, which nbd-client (Debian 12) does not do.
 */
export const NODE_IMAGE = 'debian-12-node';

export const NODE_PACKAGES = [
  'linux-image-amd64', 'initramfs-tools', 'systemd-sysv', 'udev', 'dbus', 'openssh-server',
  'ifupdown', 'iproute2', 'iputils-ping', 'procps', 'e2fsprogs', 'netbase', 'less', 'kmod',
  // The initrd's tools (ip, awk, tr, fractional sleep): initramfs-tools takes busybox when it is installed.
  'busybox',
  // The node's own jobs: run VMs' disks, serve roots (qemu-storage-daemon), the replicated services.
  'qemu-utils', 'qemu-system-common', 'nftables', 'dnsmasq-base', 'keepalived', 'nfs-common',
];

/** Modules the initrd carries: the NICs a node may boot on, NBD, and the root file system. */
export const NODE_INITRD_MODULES = ['e1000', 'e1000e', 'igb', 'tg3', 'virtio_pci', 'virtio_net', 'nbd', 'ext4', 'crc32c_generic', 'af_packet'];

/** How long a request waits in qemu-nbd for a new server before it fails (a take-over needs ~1 s). */
export const NBD_RECONNECT_DELAY_S = 300;

/** Printed on the serial console at each stage of the network root: the boot timings read these. */
export const ROOT_MARK = 'vlx-root:';

const HOOK = `#!/bin/sh
PREREQ=""
prereqs() { echo "$PREREQ"; }
case "$1" in prereqs) prereqs; exit 0 ;; esac
. /usr/share/initramfs-tools/hook-functions
copy_exec /usr/bin/qemu-nbd /bin
manual_add_modules ${NODE_INITRD_MODULES.join(' ')}
`;

/**
 * initramfs-tools local-top script: the report's parameters (first occurrence wins, the
 * line ends at ---), the storage interface up (static sifip/sifnm, else DHCP), the modules
 * of sifm and nbd, then /dev/nbd0 connected to export ivid at storage_ip:storage_port.
 */
const LOCAL_TOP = `#!/bin/sh
PREREQ=""
prereqs() { echo "$PREREQ"; }
case "$1" in prereqs) prereqs; exit 0 ;; esac
. /scripts/functions
mark() { echo "${ROOT_MARK} $*" > /dev/console; }
first() { eval "[ -n \\"\\\${vlx_$1+x}\\" ]" || eval "vlx_$1=\\$2"; }
for w in $(cat /proc/cmdline); do
  case "$w" in
    ---) break ;;
    storage_ip=*|storage_port=*|sif=*|sifip=*|sifnm=*|sifm=*|ivid=*) first "\${w%%=*}" "\${w#*=}" ;;
  esac
done
[ -n "\${vlx_ivid:-}" ] || exit 0
sif=\${vlx_sif:-eth0}
for m in $(echo "\${vlx_sifm:-}" | tr ',' ' '); do modprobe "$m" || mark "module $m failed"; done
modprobe nbd
n=0; while [ ! -e "/sys/class/net/$sif" ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n+1)); done
mark "interface $sif"
if [ -n "\${vlx_sifip:-}" ]; then
  ipconfig -t 30 -c none -d "\${vlx_sifip}::0.0.0.0:\${vlx_sifnm:-255.255.255.0}::$sif:none" >/dev/null
else
  ipconfig -t 60 -c dhcp -d "$sif" >/dev/null
fi
mark "address $(ip -4 -o addr show dev "$sif" 2>/dev/null | awk '{print $4}')"
opts="driver=nbd,server.type=inet,server.host=\${vlx_storage_ip},server.port=\${vlx_storage_port:-10809},export=\${vlx_ivid},reconnect-delay=${NBD_RECONNECT_DELAY_S}"
n=0
until qemu-nbd --fork -c /dev/nbd0 --image-opts "$opts" 2>/run/vlx-nbd.err; do
  n=$((n+1)); [ $n -ge 120 ] && { mark "no root: $(cat /run/vlx-nbd.err)"; panic "root export \${vlx_ivid} not reachable"; }
  sleep 1
done
mark "root \${vlx_ivid} from \${vlx_storage_ip}"
udevadm settle 2>/dev/null || true
`;

const IDENTITY = `#!/bin/sh
# The node's name: the DHCP answer the initrd got, else the boot line's export name.
name=$(sed -n "s/^HOSTNAME='\\{0,1\\}\\([a-z0-9-]*\\)'\\{0,1\\}$/\\1/p" /run/net-*.conf 2>/dev/null | head -n 1)
[ -n "$name" ] || name=$(tr ' ' '\\n' < /proc/cmdline | sed -n 's/^ivid=//p' | head -n 1)
if [ -n "$name" ] && [ "$(cat /etc/hostname 2>/dev/null)" = localhost ]; then echo "$name" > /etc/hostname; fi
hostname "$(cat /etc/hostname)"
# ed25519 only: RSA keys take a minute to make under emulation, and the install writes the node's own.
[ -e /etc/ssh/ssh_host_ed25519_key ] || ssh-keygen -q -t ed25519 -N '' -f /etc/ssh/ssh_host_ed25519_key
`;

const READY = `#!/bin/sh
addr=$(ip -4 -o addr show scope global | awk '{print $4}' | cut -d/ -f1 | head -n 1)
echo "${ROOT_MARK} ready $(hostname) \${addr:-none}" > /dev/ttyS0
`;

const FILES: Record<string, string> = {
  'etc/initramfs-tools/conf.d/vlx-node.conf': 'MODULES=list\nCOMPRESS=zstd\n',
  'etc/initramfs-tools/hooks/vlx-nbd': HOOK,
  'etc/initramfs-tools/scripts/local-top/vlx-nbd': LOCAL_TOP,
  // The node's own configuration (vlx install's second initrd), copied into the mounted root.
  'etc/initramfs-tools/scripts/init-bottom/vlx-config': renderApplyConfigHook(),
  'usr/local/sbin/vlx-identity': IDENTITY,
  'usr/local/sbin/vlx-ready': READY,
  // No fsck at boot: the root is a fresh overlay or was checked where it was written.
  'etc/fstab': '/dev/nbd0 / ext4 defaults,errors=remount-ro 0 0\n',
  // The interface carries the root: ifupdown must never take it down (only lo is listed).
  'etc/network/interfaces': 'auto lo\niface lo inet loopback\n',
  'etc/systemd/system/serial-getty@ttyS0.service.d/autologin.conf': [
    '[Service]', 'ExecStart=', 'ExecStart=-/sbin/agetty --autologin root --keep-baud 115200,57600,38400,9600 %I $TERM', '',
  ].join('\n'),
  // A node holds no floppy; the probe costs seconds of an emulated boot.
  'etc/modprobe.d/vlx-node.conf': 'blacklist floppy\nblacklist pcspkr\n',
  'etc/ssh/sshd_config.d/vlx-node.conf': 'HostKey /etc/ssh/ssh_host_ed25519_key\nPasswordAuthentication no\n',
  // The replicated services start at boot where \`vlx services deploy\` left their configs
  // (foreground daemons, the same pid files the deploy checks); the storage address's
  // keepalived starts the root server on whichever node wins it.
  'etc/systemd/system/vlx-dnsmasq.service': [
    '[Unit]', 'Description=VirtuaLinux DHCP, TFTP and DNS (replicated on every node)', 'After=network-online.target',
    'ConditionPathExists=/etc/virtualinux/services/dnsmasq.conf',
    '[Service]', 'ExecStartPre=/bin/mkdir -p /run/virtualinux', 'ExecStart=/usr/sbin/dnsmasq -k -C /etc/virtualinux/services/dnsmasq.conf',
    'Restart=on-failure',
    '[Install]', 'WantedBy=multi-user.target', '',
  ].join('\n'),
  'etc/systemd/system/vlx-keepalived.service': [
    '[Unit]', 'Description=VirtuaLinux gateway and storage addresses (VRRP)', 'After=network-online.target',
    'ConditionPathExists=/etc/virtualinux/services/keepalived.conf',
    '[Service]', 'ExecStartPre=/bin/mkdir -p /run/virtualinux',
    'ExecStart=/usr/sbin/keepalived -l -D -n -f /etc/virtualinux/services/keepalived.conf -p /run/virtualinux/keepalived.pid -r /run/virtualinux/keepalived-vrrp.pid',
    'KillMode=process', 'Restart=on-failure',
    '[Install]', 'WantedBy=multi-user.target', '',
  ].join('\n'),
  'etc/systemd/system/vlx-identity.service': [
    '[Unit]', 'Description=Node name from DHCP and host keys of its own', 'DefaultDependencies=no',
    'After=local-fs.target', 'Before=ssh.service network.target',
    '[Service]', 'Type=oneshot', 'ExecStart=/usr/local/sbin/vlx-identity',
    '[Install]', 'WantedBy=multi-user.target', '',
  ].join('\n'),
  'etc/systemd/system/vlx-ready.service': [
    '[Unit]', 'Description=Tell the console that this node is up', 'After=ssh.service',
    '[Service]', 'Type=oneshot', 'ExecStart=/usr/local/sbin/vlx-ready',
    '[Install]', 'WantedBy=multi-user.target', '',
  ].join('\n'),
};

export const NODE_PROFILE: DebianProfile = {
  defaultName: NODE_IMAGE,
  packages: NODE_PACKAGES,
  kernelPackage: 'linux-image-amd64',
  cmdline: 'console=ttyS0 net.ifnames=0 rw quiet',
  rootDevice: '/dev/nbd0',
  files: FILES,
  executables: ['etc/initramfs-tools/hooks/vlx-nbd', 'etc/initramfs-tools/scripts/local-top/vlx-nbd', 'etc/initramfs-tools/scripts/init-bottom/vlx-config', 'usr/local/sbin/vlx-identity', 'usr/local/sbin/vlx-ready'],
  units: ['vlx-identity.service', 'vlx-ready.service', 'vlx-dnsmasq.service', 'vlx-keepalived.service'],
  // Jobs a disk-less node does not need at boot (an ext4 scrub of a network root, above all).
  masked: ['e2scrub_reap.service', 'e2scrub_all.timer', 'apt-daily.timer', 'apt-daily-upgrade.timer'],
  rebuildInitrd: true,
};

/** Cached like debian-12: a second build with the same inputs does nothing. */
export function buildDebianNode(opts: BuildOptions = {}): Promise<BuiltImage> {
  return buildDebian(opts, NODE_PROFILE);
}
