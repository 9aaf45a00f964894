/**
 * The tiny guest's /init and inittab. The kernel runs /init as PID 1; it prepares the
 * system, configures eth0 from the kernel command line and then becomes busybox init,
 * which keeps a root shell respawning on the serial console.
 *
 * Kernel parameters read (all optional):
 *   vlx.ip=A/P      address and prefix of eth0
 *   vlx.gw=G        default gateway (the tap's address on the hosting node)
 *   vlx.name=N      hostname
 *   vlx.vc=V        the VC the guest belongs to (shown in the prompt, kept in /etc/vlx-vc)
 *   vlx.shared=H:/P NFSv3 export mounted at /shared (VC-wide shared storage, sharedMount.ts)
 *   vlx.warm=1      boot as a warm-start template (main/vm/warmStart.ts): everything that does
 *                   not depend on who the guest is happens first, then the guest waits on its
 *                   console for an identity line (WARM_IDENTITY_TAG and the parameters above,
 *                   plus vlx.mac, vlx.time and vlx.seed), and that line stands for the command line.
 */
import { GUEST_TIMES_MARKER, READY_MARKER, WARM_IDENTITY_TAG, WARM_WAIT_MARKER } from '../vm/serial.js';
import { NFS_MOUNT_OPTIONS, SHARED_FAILED_MARKER, SHARED_MOUNT_POINT } from './sharedMount.js';

export interface TinyInitInput {
  /** Module file names relative to /lib/modules, in load order (dependencies first). */
  bootModules: string[];
  /** Loaded only when vlx.shared is given. */
  nfsModules: string[];
}

export function renderTinyInit(input: TinyInitInput): string {
  const insmod = (mods: string[]): string => mods.map((m) => `  insmod /lib/modules/${m} 2>/dev/null`).join('\n');
  // The PCI transport only where there is a PCI bus (the pc machine): on microvm, three
  // insmods less of emulated relocation work per boot.
  const pci = input.bootModules.filter((m) => /^virtio_pci/.test(m));
  // The disk driver binds after the identity: a warm-started guest must never have read the
  // template's disk (its size, its partition table in the page cache) instead of its own.
  const disk = input.bootModules.filter((m) => /^virtio_blk\.ko$/.test(m));
  const rest = input.bootModules.filter((m) => !pci.includes(m) && !disk.includes(m));
  return `#!/bin/busybox sh
/bin/busybox --install -s
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
mkdir -p /proc /sys /dev /tmp /run /root /shared /var/log /var/run
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /tmp
mount -t tmpfs tmpfs /run
# The guest's own clock at each stage, printed before the readiness marker (the start logs it):
# where a boot's seconds go, without a debug build.
read T_INIT _ < /proc/uptime
load() {
${insmod(rest)}
}
loadpci() {
${insmod(pci)}
  :
}
loaddisk() {
${insmod(disk)}
  :
}
loadnfs() {
${insmod(input.nfsModules)}
  :
}
load
set -- /sys/bus/pci/devices/*
[ -e "$1" ] && loadpci
# The power button's daemon starts now, so it is up by the time the marker waits for it
# (a guest loaded by its neighbours spent up to 0.7 s in that wait when acpid started last).
# acpid quits silently without /var/log and /var/run, hence the mkdir above.
acpid -c /etc/acpi

ID="$(cat /proc/cmdline)"
FROM=
case " $ID " in
  *" vlx.warm=1 "*)
    # A warm-start template: the NFS client loads now, then the guest waits for who it is.
    # The console stays open on fd 3 so no byte of the identity is lost between reads; the
    # waiting line comes back every second, so a start that was cut off finds a guest still
    # waiting (and its state is saved while it waits).
    loadnfs
    exec 3</dev/console
    ID=
    until case "$ID" in *"${WARM_IDENTITY_TAG}"*) true ;; *) false ;; esac; do
      echo "${WARM_WAIT_MARKER}" > /dev/console
      read -r -t 1 ID <&3
    done
    exec 3<&-
    FROM=identity
    read T_INIT _ < /proc/uptime
    ;;
esac
loaddisk

IP= GW= NAME=vlx-guest VC= SHARED= MAC=
for w in $ID; do
  case "$w" in
    vlx.ip=*) IP="\${w#vlx.ip=}" ;;
    vlx.gw=*) GW="\${w#vlx.gw=}" ;;
    vlx.name=*) NAME="\${w#vlx.name=}" ;;
    vlx.vc=*) VC="\${w#vlx.vc=}" ;;
    vlx.shared=*) SHARED="\${w#vlx.shared=}" ;;
    vlx.mac=*) MAC="\${w#vlx.mac=}" ;;
    # The template's clock stopped when it was saved, and every copy shares its random state.
    vlx.time=*) date -s "@\${w#vlx.time=}" > /dev/null ;;
    vlx.seed=*) echo "\${w#vlx.seed=}" > /dev/urandom ;;
  esac
done
hostname "$NAME"
echo "$NAME" > /etc/hostname
echo "$VC" > /etc/vlx-vc
ip link set lo up
# A copy of a template starts with the template's MAC: the VM's own is set before the link is up.
[ -n "$MAC" ] && ip link set eth0 address "$MAC"
if [ -n "$IP" ]; then
  ip link set eth0 up
  ip addr add "$IP" dev eth0
  # onlink: in the routed design the gateway is the node's tap, reachable whatever the prefix.
  [ -n "$GW" ] && ip route add default via "$GW" dev eth0 onlink
fi
read T_NET _ < /proc/uptime
T_SHARED=-
if [ -n "$SHARED" ]; then
  loadnfs
  # busybox here has no NFS mount helper: the kernel parses the options itself and needs
  # the server address spelled out as addr=.
  # eth0's link comes up a moment after it is set up: until then the server is unreachable.
  # Short retries (20 s in all): the guest is not ready before the mount, and a whole second
  # lost on the first try is most of a tiny guest's boot.
  i=0
  until mount -t nfs -o "${NFS_MOUNT_OPTIONS},addr=\${SHARED%%:*}" "$SHARED" ${SHARED_MOUNT_POINT} 2>/dev/null; do
    i=$((i+1))
    if [ $i -ge 100 ]; then echo "${SHARED_FAILED_MARKER} $SHARED" > /dev/console; break; fi
    sleep 0.2
  done
  read T_SHARED _ < /proc/uptime
fi
ADDR="\${IP%/*}"
# The readiness marker comes from init's sysinit, once busybox init handles its signals: a
# power button pressed right after the marker then reaches an init that acts on it (from this
# script, still PID 1 without handlers, the poweroff signal was lost).
# acpid forks before it opens the power button's event device: the marker waits until it
# has, so "ready" includes the button.
cat > /etc/vlx-ready <<EOF
#!/bin/sh
i=0
while [ \\\$i -lt 250 ] && ! ls -l /proc/\\\$(pidof acpid)/fd 2>/dev/null | grep -q /dev/input/event; do
  sleep 0.02; i=\\\$((i+1))
done
read T_READY _ < /proc/uptime
echo "${GUEST_TIMES_MARKER} init=$T_INIT net=$T_NET shared=$T_SHARED ready=\\\$T_READY\${FROM:+ from=\$FROM}" > /dev/console
echo "${READY_MARKER} $NAME \${ADDR:-none}" > /dev/console
EOF
chmod 755 /etc/vlx-ready
exec /bin/busybox init
`;
}

export const TINY_INITTAB = `::sysinit:/etc/vlx-ready
ttyS0::respawn:-/bin/sh
::ctrlaltdel:/sbin/poweroff -f
::shutdown:/bin/umount -a -r
`;

/** The shell's prompt names the guest, so a person on the console knows where they are. */
export const TINY_PROFILE = `export PS1="\\$(hostname):\\w# "
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
`;

/** busybox acpid runs /etc/acpi/<event dir>/<file>; PWRF/00000080 is the power button. */
export const TINY_ACPI_POWER = `#!/bin/sh
poweroff
`;
