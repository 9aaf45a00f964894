import { sh } from '../util/quote.js';
import {
  ETCD_CLIENT_PORT, ETCD_CONF, ETCD_DATA, ETCD_LOG, ETCD_PID, ETCD_ROOT, HA_SECRETS, HA_TLS, PATRONI_CONF, PATRONI_LOG, PATRONI_PID,
  PG_DATA, PG_ROOT, PG_SOCKETS,
} from './haConfig.js';

/**
 * Shell scripts run on each database member, as pure functions so what runs there is tested
 * without a node. Every path goes through sh().
 */

/**
 * Is the pid in FILE a live process of ours: its command line holds MARK, and it shares our
 * mount namespace (lab nodes share one pid space and use the same paths)? Prints the pid or nothing.
 */
function livePid(file: string, mark: string): string {
  return `pid=$(cat ${sh(file)} 2>/dev/null); case "$pid" in ''|*[!0-9]*) pid= ;; esac; `
    + `if [ -n "$pid" ] && tr '\\0' ' ' < /proc/$pid/cmdline 2>/dev/null | grep -qF -- ${sh(mark)} `
    + `&& [ "$(readlink /proc/$pid/ns/mnt)" = "$(readlink /proc/self/ns/mnt)" ]; then echo "$pid"; fi`;
}

export const patroniPidScript = (): string => livePid(PATRONI_PID, PATRONI_CONF);
export const etcdPidScript = (): string => livePid(ETCD_PID, ETCD_CONF);

/** What a member has: tools, data, secrets, certificate, running daemons. key=value lines; PEM and secrets base64. */
export function memberProbeScript(tls: { cert: string; key: string }): string {
  return [
    'bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)',
    'echo "bin=$bin"',
    'echo "client=${SSH_CLIENT%% *}"',
    'id -u postgres >/dev/null 2>&1 && echo "user=postgres"',
    'id -u etcd >/dev/null 2>&1 && echo "etcduser=etcd"',
    'command -v openssl >/dev/null 2>&1 && echo "openssl=yes"',
    'command -v patroni >/dev/null 2>&1 && echo "patroni=yes"',
    'command -v etcd >/dev/null 2>&1 && command -v etcdctl >/dev/null 2>&1 && echo "etcd=yes"',
    '[ -d /run/systemd/system ] && echo "systemd=yes"',
    `[ -f ${sh(`${PG_DATA}/PG_VERSION`)} ] && echo "pgdata=yes" && echo "sysid=$("$bin/pg_controldata" ${sh(PG_DATA)} 2>/dev/null | sed -n 's/^Database system identifier: *//p')"`,
    `[ -d ${sh(`${ETCD_DATA}/member`)} ] && echo "etcddata=yes"`,
    // an etcd deployed before TLS: its peers speak plain HTTP (see plainEtcd in haDeploy)
    `grep -qF '"listen-peer-urls": "http://' ${sh(ETCD_CONF)} 2>/dev/null && echo "etcdplain=yes"`,
    `[ -s ${sh(HA_TLS.ca)} ] && [ -s ${sh(HA_TLS.caKey)} ] && echo "haca=$(base64 -w0 < ${sh(HA_TLS.ca)})"`,
    `[ -s ${sh(HA_SECRETS)} ] && echo "secrets=$(base64 -w0 < ${sh(HA_SECRETS)})"`,
    `[ -s ${sh(tls.cert)} ] && [ -s ${sh(tls.key)} ] && echo "cert=$(base64 -w0 < ${sh(tls.cert)})"`,
    `echo "patronipid=$(${patroniPidScript()})"`,
    `echo "etcdpid=$(${etcdPidScript()})"`,
    'true',
  ].join('\n');
}

/** Directories both daemons need, owned by who writes them; postgres must be able to walk to its own. */
export function prepareDirsScript(): string {
  return [
    'set -e',
    sh('mkdir', '-p', PG_ROOT, `${PG_ROOT}/log`, PG_SOCKETS, ETCD_ROOT),
    sh('chown', 'postgres:postgres', PG_ROOT, `${PG_ROOT}/log`, PG_SOCKETS),
    sh('chmod', '0700', PG_ROOT),
    // the node-private mount may be 0700 root: postgres and etcd must pass through it
    `for d in ${sh(PG_ROOT.split('/').slice(0, -1).join('/'))} /run/postgresql; do chmod o+x "$d"; done`,
    `id -u etcd >/dev/null 2>&1 && ${sh('chown', 'etcd:etcd', ETCD_ROOT)} && ${sh('chmod', '0700', ETCD_ROOT)}`,
    'true',
  ].join('\n');
}

/** Replace a file owned by OWNER (mode 0600) only when its content changed; prints "changed" or "same". */
export function writeIfChangedScript(path: string, owner: string): string {
  const script = 'umask 077; t="$1.vlx-tmp"; cat > "$t" || exit 1; chown "$2" "$t"; '
    + 'if cmp -s "$t" "$1"; then rm -f "$t"; echo same; else mv "$t" "$1"; echo changed; fi';
  return sh('sh', '-c', script, 'sh', path, owner);
}

/**
 * Start a daemon as USER, detached in its own session, output to LOG, its pid in PIDFILE.
 * setpriv execs (runuser would stay as a parent), so the pid is the daemon's own.
 */
export function startDetachedScript(user: string, pidFile: string, log: string, argv: string[]): string {
  const inner = 'echo $$ > "$1"; u="$2"; shift 2; exec setpriv --reuid="$u" --regid="$u" --init-groups -- "$@"';
  return `setsid -f sh -c ${sh(inner)} sh ${sh(pidFile, user, ...argv)} >> ${sh(log)} 2>&1 < /dev/null`;
}

export function startEtcdScript(): string {
  return startDetachedScript('etcd', ETCD_PID, ETCD_LOG, ['/usr/bin/etcd', '--config-file', ETCD_CONF]);
}

export function startPatroniScript(): string {
  return startDetachedScript('postgres', PATRONI_PID, PATRONI_LOG, ['/usr/bin/patroni', PATRONI_CONF]);
}

/**
 * Before Patroni first runs on a member: a PostgreSQL the old one-node deploy started is
 * stopped (Patroni starts its own with its own settings), and its settings file goes.
 */
export function retireStandaloneScript(bin: string): string {
  return [
    `pid=$(head -n 1 ${sh(`${PG_DATA}/postmaster.pid`)} 2>/dev/null)`,
    'case "$pid" in \'\'|*[!0-9]*) pid= ;; esac',
    `if [ -n "$pid" ] && [ "$(readlink /proc/$pid/cwd 2>/dev/null)" = "$(readlink -f ${sh(PG_DATA)})" ] && [ "$(readlink /proc/$pid/ns/mnt)" = "$(readlink /proc/self/ns/mnt)" ]; then`,
    `  ${sh('runuser', '-u', 'postgres', '--', `${bin}/pg_ctl`, '-D', PG_DATA, '-m', 'fast', '-w', '-t', '60', 'stop')} >&2`,
    'else',
    // a pid file whose pid is no postmaster of ours (reused after a power cut) would stop Patroni's start
    `  rm -f ${sh(`${PG_DATA}/postmaster.pid`)} ${sh(PG_SOCKETS)}/.s.PGSQL.*`,
    'fi',
    `rm -f ${sh(`${PG_DATA}/vlx.conf`)}`,
    'true',
  ].join('\n');
}

/**
 * A member's boot, as its units would do it: the daemons it was deployed with start again
 * from their files, on this node alone (the other members may be down). A postmaster.pid
 * left by a power cut names no postmaster of ours (its pid may be anyone's now): it goes.
 * Prints what it started.
 */
export function bootMemberScript(): string {
  const ours = `[ "$(readlink /proc/$pid/cwd 2>/dev/null)" = "$(readlink -f ${sh(PG_DATA)})" ] && [ "$(readlink /proc/$pid/ns/mnt)" = "$(readlink /proc/self/ns/mnt)" ]`;
  return [
    `( ${prepareDirsScript()} ) || exit 1`,
    `if [ -s ${sh(ETCD_CONF)} ] && [ -z "$(${etcdPidScript()})" ]; then ${startEtcdScript()} && echo started etcd; fi`,
    `if [ -s ${sh(PATRONI_CONF)} ] && [ -z "$(${patroniPidScript()})" ]; then`,
    `  pid=$(head -n 1 ${sh(`${PG_DATA}/postmaster.pid`)} 2>/dev/null)`,
    '  case "$pid" in \'\'|*[!0-9]*) pid= ;; esac',
    `  if [ -n "$pid" ] && ! { ${ours}; }; then rm -f ${sh(`${PG_DATA}/postmaster.pid`)}; fi`,
    `  ${startPatroniScript()} && echo started patroni`,
    'fi',
    'true',
  ].join('\n');
}

/** A data dir that belongs to no cluster we keep is moved aside, never deleted. */
export function moveAsideScript(stamp: string): string {
  return `[ -d ${sh(PG_DATA)} ] && mv ${sh(PG_DATA, `${PG_DATA}.aside-${stamp}`)}; true`;
}

/** etcdctl against the node's local etcd, over TLS with the member's certificate (etcd asks for one). */
export function etcdctl(...args: string[]): string {
  return `ETCDCTL_API=3 ${sh('etcdctl', `--endpoints=https://127.0.0.1:${ETCD_CLIENT_PORT}`, `--cacert=${HA_TLS.ca}`, `--cert=${HA_TLS.cert}`, `--key=${HA_TLS.key}`, ...args)}`;
}

/** Read one key from etcd (v3) through the node's local etcd, value only. */
export function etcdGetScript(key: string): string {
  return etcdctl('--command-timeout=3s', 'get', '--print-value-only', key);
}

/**
 * Stop a daemon of ours (its pid from livePid) and wait until it is gone, up to 60 s: Patroni
 * stops its PostgreSQL on the way out. Under systemd, the unit instead.
 */
export function stopDaemonScript(which: 'patroni' | 'etcd', systemd: boolean): string {
  if (systemd) return sh('systemctl', 'stop', `vlx-${which}`);
  const live = which === 'patroni' ? patroniPidScript() : etcdPidScript();
  return [
    `pid=$(${live})`,
    'if [ -n "$pid" ]; then kill "$pid"; for i in $(seq 600); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done; fi',
    '! kill -0 "$pid" 2>/dev/null || { echo "still running after 60 s: $pid" >&2; exit 1; }',
  ].join('\n');
}

/** How PostgreSQL left its data: `shut down` (a primary stopped cleanly), `shut down in recovery` (a standby), … */
export function pgStateScript(bin: string): string {
  return `${sh(`${bin}/pg_controldata`, PG_DATA)} 2>/dev/null | sed -n 's/^Database cluster state: *//p'`;
}
