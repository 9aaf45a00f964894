import { invalid } from '../errors.js';
import { NODE_RUN } from '../domain/nodePaths.js';
import { quote } from '../util/quote.js';

/**
 * The root server of disk-less nodes: one NBD server for the whole cluster, on a floating
 * storage address that keepalived (VRRP, like the gateway VIP) gives to one live node at a
 * time. The holder runs qemu-storage-daemon with one export per node root overlay
 * (cluster/<container>/node<N>.qcow2 as export `<container>-node<N>`, the boot line's ivid).
 * When the holder dies another node gets the address, and its keepalived starts the same
 * exports there. Pure: the plan values are checked here, the script is rendered here.
 *
 * Why qemu-storage-daemon: it serves the qcow2 overlays as they are (no conversion, no
 * kernel target: this machine has no LIO and no nbd.ko), many exports by name behind one
 * port, and it takes qcow2's write lock on each overlay, so two servers can never write the
 * same root. A dead server's locks die with its process. qemu-nbd serves one image per
 * process and port; tgt (iSCSI) would need the overlays as raw files or its own qcow2
 * backing store, and iSCSI's initiator in the initrd (open-iscsi) has no cheap way to come
 * back on another server under a running root either.
 */
export const DEFAULT_STORAGE_PORT = 10809;

export interface StoragePlan {
  vip: string;
  port: number;
  routerId: number;
  /** <shared root>/cluster, where the overlays are. */
  clusterDir: string;
}

export const storagePaths = {
  pid: `${NODE_RUN}/storage.pid`,
  /** Every overlay the server was started for, and those it really serves. */
  exports: `${NODE_RUN}/storage.exports`,
  served: `${NODE_RUN}/storage.served`,
  log: `${NODE_RUN}/storage.log`,
  lock: `${NODE_RUN}/storage.lock`,
} as const;

/** The .252 of a /24, the report's SAN address next to its gateway (.253): the install config's default too. */
export function defaultStorageVip(base: number, prefix: number, blockSize: number): number {
  return base + (prefix <= 24 ? 252 : blockSize - 3);
}

export function checkStoragePort(port: unknown): number {
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw invalid('services.storage.port', 'must be a whole number from 1 to 65535', port);
  }
  return port;
}

/**
 * The root server's script, run by keepalived as the storage instance's notify script
 * (TYPE NAME STATE PRIORITY) and by the deploy with no argument. Whatever the caller, it
 * converges: holding the address → qemu-storage-daemon serving exactly the overlays on
 * shared storage now; not holding it → no server. Serialised by a lock and decided under it
 * from the address, not from the state named, so a quick MASTER → BACKUP → MASTER never
 * leaves two servers or none.
 */
export function renderStorageScript(s: StoragePlan, header: string): string {
  const p = storagePaths;
  return [
    '#!/bin/sh',
    header,
    'set -u',
    `VIP=${quote(s.vip)}; PORT=${s.port}; CLUSTER=${quote(s.clusterDir)}`,
    `mkdir -p ${quote(NODE_RUN)}`,
    `exec 9>${quote(p.lock)}`,
    'flock 9',
    'holds() { ip -o -4 addr show | grep -qF " $VIP/"; }',
    `running() { p=$(cat ${quote(p.pid)} 2>/dev/null) || return 1; [ -r "/proc/$p/cmdline" ] && tr '\\000' '\\n' < "/proc/$p/cmdline" | grep -qxF -- ${quote(p.pid)} && echo "$p"; }`,
    // One line per overlay: export name, file and inode (a reset overlay is a new file: it must be
    // reopened). Names that an option string could misread are skipped.
    'exports() { for f in "$CLUSTER"/*/node*.qcow2; do [ -f "$f" ] || continue; c=${f%/*}; c=${c##*/}; n=${f##*/}; n=${n%.qcow2}; ' +
      'case "$c/$n" in *[!A-Za-z0-9._/-]*) continue ;; esac; echo "$c-$n $f $(stat -c %i "$f")"; done; }',
    'stop() { if p=$(running); then kill -TERM "$p"; i=0; while [ -d "/proc/$p" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done; ' +
      `kill -KILL "$p" 2>/dev/null; fi; rm -f ${quote(p.pid)} ${quote(p.exports)} ${quote(p.served)}; }`,
    // qemu-storage-daemon opens every overlay or none: an overlay it cannot open (locked by a live
    // process, its backing file gone) is named in its error, dropped, and the rest served.
    'start() {',
    `  exports > ${quote(p.exports)}; cp ${quote(p.exports)} ${quote(p.served)}`,
    '  n=0',
    '  while :; do',
    '    set --; i=0',
    '    while read -r name file ino; do i=$((i+1)); set -- "$@" --blockdev "driver=qcow2,node-name=root$i,file.driver=file,file.filename=$file" ' +
      `--export "type=nbd,id=export$i,node-name=root$i,name=$name,writable=on"; done < ${quote(p.served)}`,
    // The daemon keeps neither the lock (fd 9: every later run would wait on it forever) nor the
    // caller's stdout (the deploy reads this script's output to its end).
    '    if qemu-storage-daemon --nbd-server "addr.type=inet,addr.host=$VIP,addr.port=$PORT" "$@" ' +
      `--pidfile ${quote(p.pid)} --daemonize 9>&- </dev/null >/dev/null 2>${quote(p.log + '.err')}; then break; fi`,
    `    cat ${quote(p.log + '.err')} >> ${quote(p.log)}`,
    `    bad=$(while read -r name file ino; do grep -qF "filename=$file:" ${quote(p.log + '.err')} && echo "$file"; done < ${quote(p.served)})`,
    `    if [ -n "$bad" ]; then grep -vF "$bad" ${quote(p.served)} > ${quote(p.served + '.new')}; mv -f ${quote(p.served + '.new')} ${quote(p.served)}; echo "storage: not served: $bad" >> ${quote(p.log)}; continue; fi`,
    // Anything else (the address not there yet): try again for 10 s.
    '    n=$((n+1)); if [ $n -ge 50 ] || ! holds; then echo "storage: no server: $(tail -n 1 ' + quote(p.log) + ')"; return 1; fi; sleep 0.2',
    '  done',
    `  echo "storage: serving $(wc -l < ${quote(p.served)}) of $(wc -l < ${quote(p.exports)}) root(s) on $VIP:$PORT" >> ${quote(p.log)}`,
    '}',
    'state=${3:-${1:-converge}}',
    // keepalived runs a notify per transition, each on its own: after a quick BACKUP → MASTER
    // (or MASTER → BACKUP) the two runs may take the lock in either order. So a run acts on
    // whether the node holds the address when it has the lock, never on the state it was
    // called for: every run after the last transition sees its address, and the last run is
    // one of them. STOP is keepalived going away (or `services stop`): no server, even if a
    // killed keepalived left the address behind.
    'if [ "$state" != STOP ] && holds; then',
    `  if running >/dev/null && exports | cmp -s - ${quote(p.exports)}; then echo "storage: kept $(running)"; exit 0; fi`,
    '  stop; start && echo "storage: started $(running)"',
    'else stop; echo "storage: idle"; fi',
    '',
  ].join('\n');
}

/**
 * The storage address's VRRP instance; its notify script starts and stops the server. Only a
 * node that sees the overlays may hold it (a disk-less node without the shared storage
 * mounted must never win the address it boots from): the check puts the instance in FAULT.
 */
export function renderStorageVrrp(s: StoragePlan, o: { iface: string; priority: number; address: string; peers: string[]; prefix: number; script: string }): string {
  return [
    'vrrp_script vlx_storage_ready {',
    `  script "/usr/bin/test -d ${s.clusterDir}"`,
    '  interval 2',
    '  fall 1',
    '  rise 1',
    '}',
    '',
    'vrrp_instance vlx_storage {',
    '  state BACKUP',
    // A node that comes back does not take the roots back: every move is a stall for every client.
    '  nopreempt',
    `  interface ${o.iface}`,
    `  virtual_router_id ${s.routerId}`,
    `  priority ${o.priority}`,
    '  advert_int 0.1',
    `  unicast_src_ip ${o.address}`,
    '  unicast_peer {',
    ...o.peers.map((p) => `    ${p}`),
    '  }',
    '  virtual_ipaddress {',
    `    ${s.vip}/${o.prefix} dev ${o.iface}`,
    '  }',
    '  track_script {',
    '    vlx_storage_ready',
    '  }',
    `  notify ${o.script}`,
    '}',
    '',
  ].join('\n');
}
