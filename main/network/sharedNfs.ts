import { invalid } from '../errors.js';
import { NODE_ETC, NODE_LIB, NODE_RUN } from '../config/paths.js';
import { checkInt, checkName } from '../util/names.js';
import { sh } from '../util/quote.js';
import { checkPath } from '../vm/qemuArgs.js';
import { formatCidr, parseCidr } from '../domain/subnet.js';
import { MOUNT_PORT, NFS_PORT } from '../images/sharedMount.js';
import { ALIVE_FN } from '../vm/scripts.js';

/**
 * VC-wide shared storage: every node serves each VC's shared directory (vc/<vc>/shared on
 * the cluster's shared storage) over NFSv3, with NFS-Ganesha in user space, and a VM
 * mounts it from its gateway address, which is the same on every node (it sits on the
 * VM's tap wherever the VM runs).
 *
 * Why NFSv3 from every node: the protocol is stateless, so a VM that is live-migrated or
 * restored on another node keeps its mount and its open files; the next request simply
 * reaches the new node's server, which resolves the same file handles because it exports
 * the same directory under the same export number. 9p blocks migration while mounted, and
 * virtio-fs needs a vhost-user daemon whose state QEMU cannot migrate. NFSv4 keeps client
 * state on the server, which the new node would not have. Ports are fixed so a guest needs
 * no portmapper lookup, and NLM locking is off (it is stateful too).
 *
 * Access: each export admits only its VC's subnet, and the anti-spoofing rules on every
 * tap keep a VM from borrowing another VC's address.
 */
/** Where a VM finds its VC's share: GATEWAY:/vc/<name>. */
export const sharePath = (vc: string): string => `/vc/${checkName('vc', vc, 'VC name')}`;

export const nfsPaths = {
  dir: `${NODE_ETC}/nfs`,
  conf: `${NODE_ETC}/nfs/ganesha.conf`,
  exports: `${NODE_ETC}/nfs/exports.conf`,
  idmap: `${NODE_ETC}/nfs/idmapd.conf`,
  pid: `${NODE_RUN}/ganesha.pid`,
  log: `${NODE_LIB}/nfs/ganesha.log`,
  state: `${NODE_LIB}/nfs`,
};

export interface NfsShare {
  vc: string;
  subnet: string;
  /** Export number, equal on every node (vcs.share_id). */
  shareId: number;
  /** The VC's shared directory on shared storage. */
  dir: string;
}

/**
 * The server settings (ganesha.conf). They change only with the app, and Ganesha re-reads
 * only its exports on SIGHUP, so a change here restarts the server.
 */
export function renderGaneshaCore(): string {
  return [
    '# VirtuaLinux Manager: VC shared storage served by this node. Generated: edit the VCs, not this file.',
    'NFS_CORE_PARAM {',
    '\tProtocols = 3;',
    `\tNFS_Port = ${NFS_PORT};`,
    `\tMNT_Port = ${MOUNT_PORT};`,
    '\tEnable_NLM = false;',
    '\tEnable_RQUOTA = false;',
    // NFSv3 clients mount the short pseudo path (GATEWAY:/vc/NAME), not the storage layout.
    '\tMount_Path_Pseudo = true;',
    '}',
    'NFSV4 {',
    '\tGraceless = true;',
    `\tIdmapConf = "${nfsPaths.idmap}";`,
    `\tRecoveryRoot = "${nfsPaths.state}";`,
    '}',
    'NFS_KRB5 { Active_krb5 = false; }',
    // Every node serves the same directories and each writes straight to shared storage:
    // a server must not trust what it cached, or a VM reading through one node misses what
    // another VM wrote through another (no cached directory chunks, attributes always fresh).
    'MDCACHE { Dir_Chunk = 0; }',
    'EXPORT_DEFAULTS { Access_Type = None; }',
    'LOG { Default_Log_Level = EVENT; }',
    `%include "${nfsPaths.exports}"`,
    '',
  ].join('\n');
}

/** exports.conf: one export per VC, the same text on every node, so a VM sees the same server wherever it runs. */
export function renderGaneshaExports(shares: readonly NfsShare[]): string {
  const ids = new Set<number>();
  const names = new Set<string>();
  const exports = [...shares].sort((a, b) => a.shareId - b.shareId).map((s) => {
    checkName('vc', s.vc, 'VC name');
    const id = checkInt(s.shareId, `share id of ${s.vc}`, 1, 65535);
    if (ids.has(id)) throw invalid('share id', 'must be unique among VCs', id);
    if (names.has(s.vc)) throw invalid('VC name', 'must appear once', s.vc);
    ids.add(id);
    names.add(s.vc);
    const net = formatCidr(parseCidr(s.subnet, `subnet of ${s.vc}`));
    return [
      'EXPORT {',
      `\tExport_Id = ${id};`,
      `\tPath = "${checkPath(s.dir, `shared directory of ${s.vc}`)}";`,
      `\tPseudo = "${sharePath(s.vc)}";`,
      // The same file system id on every node, whatever device number the storage has there.
      `\tFilesystem_id = ${id}.77;`,
      '\tProtocols = 3;',
      '\tTransports = TCP;',
      '\tSecType = sys;',
      // The VMs' root is the VC owner's root: the share is theirs.
      '\tSquash = No_Root_Squash;',
      '\tAccess_Type = None;',
      '\tAttr_Expiration_Time = 0;',
      '\tFSAL { Name = VFS; }',
      `\tCLIENT { Clients = ${net}; Access_Type = RW; }`,
      '}',
    ].join('\n');
  });
  return ['# VirtuaLinux Manager: one export per VC. Generated: edit the VCs, not this file.', ...exports, ''].join('\n');
}

/** A fixed domain: without one the ID mapper asks DNS and waits for its timeout. */
export const IDMAPD_CONF = '[General]\nDomain = virtualinux\n';

/** Shell: write BODY to FILE if it differs; sets the named variable to 1 when it did. */
function writeIfChanged(file: string, body: string, flag: string): string[] {
  return [
    `printf '%s' ${sh(body)} > ${sh(`${file}.new`)}`,
    `if cmp -s ${sh(`${file}.new`)} ${sh(file)}; then rm -f ${sh(`${file}.new`)}; ${flag}=; else mv -f ${sh(`${file}.new`)} ${sh(file)}; ${flag}=1; fi`,
  ];
}

/** The systemd unit a real node starts Ganesha with at boot (`vlx services deploy` installs it). */
export const GANESHA_UNIT = 'vlx-ganesha.service';
export const GANESHA_UNIT_PATH = `/etc/systemd/system/${GANESHA_UNIT}`;

const ganeshaArgv = (): string[] => ['ganesha.nfsd', '-f', nfsPaths.conf, '-L', nfsPaths.log, '-p', nfsPaths.pid, '-N', 'NIV_EVENT'];

export function renderGaneshaUnit(): string {
  return [
    '# VirtuaLinux Manager: VC shared storage (NFS-Ganesha), written by vlx services deploy.',
    '[Unit]',
    'Description=VirtuaLinux VC shared storage (NFS-Ganesha)',
    'Wants=rpcbind.service network-online.target',
    'After=rpcbind.service network-online.target',
    '',
    '[Service]',
    'Type=forking',
    `PIDFile=${nfsPaths.pid}`,
    `ExecStartPre=/bin/mkdir -p ${nfsPaths.dir} ${nfsPaths.state}`,
    `ExecStart=/usr/bin/${ganeshaArgv().join(' ')}`,
    'ExecReload=/bin/kill -HUP $MAINPID',
    'Restart=on-failure',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}

/**
 * Brings one node's NFS server to the given exports (or, with `undefined`, to whatever exports
 * it has: `vlx services deploy`, which knows no VC): writes the files that changed, starts
 * rpcbind (Ganesha registers with it) and Ganesha if they do not run, restarts it when its
 * settings changed, re-reads the exports (SIGHUP) when only they changed. It keeps running
 * with no VC: it is a node service, started at boot on real nodes (systemd, the unit the
 * services deploy installs) and by this same script where there is no systemd (the lab).
 * Prints one line `nfs started|restarted|reloaded|kept|failed …`.
 */
export function renderNfsScript(shares: readonly NfsShare[] | undefined): string {
  const p = nfsPaths;
  const pid = `"$(cat ${sh(p.pid)})"`;
  // Ganesha is started with `-p PIDFILE`, which vlx_alive looks for on its command line.
  const alive = `vlx_alive ${sh(p.pid)}`;
  const stop = `kill ${pid}; i=0; while ${alive} && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done`;
  const systemd = '[ -d /run/systemd/system ]';
  return [
    ...ALIVE_FN,
    `if ! command -v ganesha.nfsd >/dev/null 2>&1; then echo 'nfs failed ganesha.nfsd is not installed (Debian: nfs-ganesha nfs-ganesha-vfs)'; else`,
    sh('mkdir', '-p', p.dir, p.state),
    `printf '%s' ${sh(IDMAPD_CONF)} > ${sh(p.idmap)}`,
    ...writeIfChanged(p.conf, renderGaneshaCore(), 'core'),
    ...(shares === undefined
      ? [`exports=; [ -e ${sh(p.exports)} ] || printf '%s' ${sh(renderGaneshaExports([]))} > ${sh(p.exports)}`]
      : writeIfChanged(p.exports, renderGaneshaExports(shares), 'exports')),
    `if ${systemd}; then`,
    ...writeIfChanged(GANESHA_UNIT_PATH, renderGaneshaUnit(), 'unit').map((l) => `  ${l}`),
    `  if [ -n "$unit" ]; then systemctl daemon-reload; systemctl enable ${GANESHA_UNIT} >/dev/null 2>&1; fi`,
    'fi',
    // A real node runs rpcbind as a system service; a node without one gets ours.
    'timeout 5 rpcinfo -p 127.0.0.1 >/dev/null 2>&1 || rpcbind -w 2>/dev/null || rpcbind',
    'how=started',
    `if ${alive}; then`,
    `  if [ -n "$core" ]; then ${stop}; how=restarted;`,
    `  elif [ -n "$exports" ]; then kill -HUP ${pid}; how=reloaded; else how=kept; fi`,
    'fi',
    'if [ "$how" = started ] || [ "$how" = restarted ]; then',
    `  if ${systemd}; then systemctl start ${GANESHA_UNIT}; else ${sh(...ganeshaArgv())}; fi`,
    // Serving once both ports listen; a start takes well under a second.
    `  i=0; until ss -ltnH "sport = :${NFS_PORT}" | grep -q . && ss -ltnH "sport = :${MOUNT_PORT}" | grep -q .; do`,
    '    [ $i -ge 100 ] && break; sleep 0.1; i=$((i+1)); done',
    `  ${alive} || how="failed ganesha.nfsd did not start: $(grep -v DBUS ${sh(p.log)} 2>/dev/null | tail -n 2 | cut -c 1-300 | tr '\\n' ' ')"`,
    'fi',
    'echo "nfs $how"',
    'fi',
    '',
  ].join('\n');
}

/** Stops the server (`vlx services stop`); the unit stays installed but is stopped. */
export function renderNfsStop(): string {
  const p = nfsPaths;
  const alive = `vlx_alive ${sh(p.pid)}`;
  return [
    ...ALIVE_FN,
    `if [ -d /run/systemd/system ] && [ -e ${sh(GANESHA_UNIT_PATH)} ]; then systemctl stop ${GANESHA_UNIT}; fi`,
    `if ${alive}; then kill "$(cat ${sh(p.pid)})"; i=0; while ${alive} && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done; echo 'nfs stopped'; else echo 'nfs idle'; fi`,
    '',
  ].join('\n');
}

/**
 * What one node actually serves for one VC (for `vc status`): two lines, `nfs-server yes|no`
 * (a Ganesha with our config runs) and `nfs-export yes|no` (the VC is in its exports).
 */
export function renderNfsProbe(vc: string): string {
  const p = nfsPaths;
  return [
    ...ALIVE_FN,
    `if vlx_alive ${sh(p.pid)}; then echo 'nfs-server yes'; else echo 'nfs-server no'; fi`,
    `if grep -qF ${sh(`Pseudo = "${sharePath(vc)}";`)} ${sh(p.exports)} 2>/dev/null; then echo 'nfs-export yes'; else echo 'nfs-export no'; fi`,
    '',
  ].join('\n');
}

export function parseNfsProbe(stdout: string): { server: boolean; exported: boolean } {
  return { server: /^nfs-server yes$/m.test(stdout), exported: /^nfs-export yes$/m.test(stdout) };
}

export type NfsAction = 'started' | 'restarted' | 'reloaded' | 'kept' | 'stopped' | 'idle' | 'absent' | 'failed';

export function parseNfsLine(stdout: string): { action: NfsAction; detail: string } | undefined {
  for (const line of stdout.split('\n')) {
    const m = /^nfs (started|restarted|reloaded|kept|stopped|idle|absent|failed)\s*(.*)$/.exec(line.trim());
    if (m) return { action: m[1] as NfsAction, detail: m[2] };
  }
  return undefined;
}
