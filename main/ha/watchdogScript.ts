import { NODE_ETC, NODE_RUN } from '../domain/nodePaths.js';
import { quote, sh } from '../util/quote.js';
import { CHECK_S, FENCE_S, RENEW_PAUSE_S, RENEW_TIMEOUT_S } from './timing.js';
import { LEASE_S } from '../health/lease.js';
import { WATCHDOG_GROUP } from '../db/haConfig.js';

/**
 * The node's self-fencing watchdog, rendered (pure). A small shell loop on every node: it
 * renews its own node's lease with its own DB role (vlx_watchdog_renew: that role can do
 * nothing else), and when it is armed (its node holds an HA VM) and has had no answered
 * renewal for FENCE_S, it SIGKILLs every QEMU of its node and logs it, again at every look
 * while it stays without an answer. Timing and the safety argument: main/ha/timing.ts.
 *
 * Armed is a two-step handshake so that the database never believes a watchdog armed that is
 * not: each renewal says what the watchdog will be once answered (intent), the answer says
 * whether it should be armed; it arms on the answer at once (always safe) and disarms only on
 * the answer to a renewal that already said "disarmed".
 *
 * Only QEMUs of VMs (their files under /run/virtualinux/vm/) in this node's own network
 * namespace are killed: lab nodes share one machine's process table.
 */
export const WATCHDOG_DIR = `${NODE_ETC}/watchdog`;
export const watchdogPaths = {
  dir: WATCHDOG_DIR,
  script: `${WATCHDOG_DIR}/watchdog.sh`,
  /** the connection, password included: root only, 0600 */
  service: `${WATCHDOG_DIR}/pg_service.conf`,
  cert: `${WATCHDOG_DIR}/server.crt`,
  pid: `${NODE_RUN}/watchdog.pid`,
  log: `${NODE_RUN}/watchdog.log`,
  unit: '/etc/systemd/system/vlx-watchdog.service',
};
export const VM_RUN = `${NODE_RUN}/vm`;

/** The watchdog's login role for a node (node names have no "_", so "-" → "_" is one to one). */
export function watchdogRole(node: string): string {
  return `vlx_wd_${node.replace(/-/g, '_')}`;
}
export { WATCHDOG_GROUP };

export interface WatchdogConn {
  node: string;
  /** every DB member: the watchdog writes to whichever is primary (target_session_attrs) */
  hosts: string[];
  port: number;
  database: string;
  password: string;
}

export function renderServiceFile(c: WatchdogConn, cert = watchdogPaths.cert): string {
  const bad = [...c.hosts, c.database, c.password].find((v) => !/^[A-Za-z0-9._-]+$/.test(v));
  if (bad !== undefined) throw new Error(`watchdog connection: ${JSON.stringify(bad)} is not a plain word`);
  return [
    `# the self-fencing watchdog's database connection (node ${c.node}); written by vlx db deploy`,
    '[vlx]',
    `host=${c.hosts.join(',')}`,
    `port=${c.port}`,
    `dbname=${c.database}`,
    `user=${watchdogRole(c.node)}`,
    `password=${c.password}`,
    'sslmode=verify-ca',
    `sslrootcert=${cert}`,
    'target_session_attrs=read-write',
    'connect_timeout=1',
    `application_name=vlx watchdog ${c.node}`,
    '',
  ].join('\n');
}

/** Where the watchdog keeps its files and looks for VMs (a test runs it elsewhere). */
export interface WatchdogPlaces {
  service: string;
  pid: string;
  err: string;
  vmRun: string;
}
const PLACES: WatchdogPlaces = { service: watchdogPaths.service, pid: watchdogPaths.pid, err: `${NODE_RUN}/watchdog.err`, vmRun: VM_RUN };

export function renderWatchdogScript(node: string, at: WatchdogPlaces = PLACES): string {
  const VM_RUN = at.vmRun;
  return `#!/bin/sh
# VirtuaLinux self-fencing watchdog of node ${node}; written by vlx db deploy (see main/ha/watchdogScript.ts).
NODE=${quote(node)}
LEASE_S=${LEASE_S}
FENCE_S=${FENCE_S}
CHECK_S=${CHECK_S}
export PGSERVICEFILE=${quote(at.service)} PGSERVICE=vlx PGCONNECT_TIMEOUT=1
ERR=${quote(at.err)}
echo $$ > ${quote(at.pid)}
log() { echo "$(date -u +%Y-%m-%dT%H:%M:%SZ) watchdog $NODE: $*"; }
# Monotonic time in centiseconds (/proc/uptime has two decimals): wall-clock steps do not move it.
now_cs() { read up rest < /proc/uptime; up="\${up%.*}\${up#*.}"; up="\${up#"\${up%%[!0]*}"}"; echo "\${up:-0}"; }
self=$(readlink /proc/self/ns/net)
kill_qemus() {
  killed=''
  for p in /proc/[0-9]*; do
    case "$(cat "$p/comm" 2>/dev/null)" in qemu-*) ;; *) continue ;; esac
    [ "$(readlink "$p/ns/net" 2>/dev/null)" = "$self" ] || continue
    vm=$(tr '\\0' '\\n' < "$p/cmdline" 2>/dev/null | grep -m1 -o ${quote(`${VM_RUN}/[^ ]*\\.pid`)})
    [ -n "$vm" ] || continue
    kill -9 "\${p#/proc/}" 2>/dev/null && killed="$killed \${vm#${VM_RUN}/}"
  done
  echo "$killed"
}
armed=0
intent=false
last_ok=''
fenced=0
failing=0
log "started: lease \${LEASE_S}s; fences \${FENCE_S}s after its last answered renewal, when armed"
while :; do
  t0=$(now_cs)
  if ans=$(timeout -s KILL ${RENEW_TIMEOUT_S} psql -X -A -t -q -c "select vlx_watchdog_renew($intent, $LEASE_S)" 2>"$ERR") && { [ "$ans" = t ] || [ "$ans" = f ]; }; then
    if [ "$ans" = t ]; then
      [ "$armed" = 1 ] || log "armed: this node holds HA VMs"
      armed=1; intent=true
    else
      if [ "$intent" = false ] && [ "$armed" = 1 ]; then armed=0; log "disarmed: no HA VM on this node"; fi
      intent=false
    fi
    last_ok=$t0
    [ "$failing" = 0 ] || log "renewed again after $(( ($(now_cs) - failed_at) / 100 ))s without"
    failing=0; fenced=0
  elif [ "$failing" = 0 ]; then
    failing=1; failed_at=$t0
    log "renewal failed: $(tr '\\n' ' ' < "$ERR" | cut -c1-300)"
  fi
  if [ "$armed" = 1 ] && [ -n "$last_ok" ] && [ $(( $(now_cs) - last_ok )) -ge $(( FENCE_S * 100 )) ]; then
    k=$(kill_qemus)
    if [ "$fenced" = 0 ] || [ -n "$k" ]; then
      log "FENCED: no answered renewal for $(( ($(now_cs) - last_ok) / 100 ))s: SIGKILL to the QEMUs of:\${k:- (none running)}"
    fi
    fenced=1
  fi
  sleep ${RENEW_PAUSE_S}
done
`;
}

export function renderWatchdogUnit(): string {
  return [
    '[Unit]',
    'Description=VirtuaLinux self-fencing watchdog (kills this node\'s VMs when it cannot renew its lease)',
    'After=network-online.target',
    'Wants=network-online.target',
    '',
    '[Service]',
    `ExecStart=/bin/sh ${watchdogPaths.script}`,
    `StandardOutput=append:${watchdogPaths.log}`,
    'StandardError=inherit',
    'Restart=always',
    'RestartSec=1',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}

export interface WatchdogFiles {
  script: string;
  service: string;
  cert: string;
}

/**
 * Install (with files) or only start (without: a lab node powered on again) the watchdog:
 * a systemd unit where systemd runs, otherwise a detached process whose pid file names it.
 * A running watchdog whose files did not change is kept. Prints `watchdog kept|started|restarted PID`.
 */
export function renderInstallScript(files?: WatchdogFiles): string {
  const p = watchdogPaths;
  const put = (path: string, mode: string, content: string) =>
    `printf '%s' ${quote(Buffer.from(content).toString('base64'))} | base64 -d > ${quote(`${path}.new`)} && chmod ${mode} ${quote(`${path}.new`)} && ` +
    `if cmp -s ${sh(`${path}.new`, path)}; then rm -f ${quote(`${path}.new`)}; else mv -f ${sh(`${path}.new`, path)}; changed=1; fi`;
  return [
    'set -e',
    'umask 077',
    'changed=0',
    `mkdir -p ${sh(p.dir)} ${quote(NODE_RUN)}`,
    `chmod 700 ${quote(p.dir)}`,
    ...(files ? [put(p.script, '0700', files.script), put(p.service, '0600', files.service), put(p.cert, '0644', files.cert)] : [
      `[ -e ${quote(p.script)} ] || { echo 'watchdog absent'; exit 0; }`,
    ]),
    'if [ -d /run/systemd/system ]; then',
    `  printf '%s' ${quote(Buffer.from(renderWatchdogUnit()).toString('base64'))} | base64 -d > ${quote(`${p.unit}.new`)}`,
    `  if cmp -s ${sh(`${p.unit}.new`, p.unit)}; then rm -f ${quote(`${p.unit}.new`)}; else mv -f ${sh(`${p.unit}.new`, p.unit)}; chmod 0644 ${quote(p.unit)}; systemctl daemon-reload; changed=1; fi`,
    '  systemctl enable vlx-watchdog >/dev/null 2>&1',
    '  if [ $changed = 1 ]; then systemctl restart vlx-watchdog; echo "watchdog restarted $(systemctl show -p MainPID --value vlx-watchdog)";',
    '  elif systemctl is-active -q vlx-watchdog; then echo "watchdog kept $(systemctl show -p MainPID --value vlx-watchdog)";',
    '  else systemctl start vlx-watchdog; echo "watchdog started $(systemctl show -p MainPID --value vlx-watchdog)"; fi',
    '  exit 0',
    'fi',
    `pid=$(cat ${quote(p.pid)} 2>/dev/null || true)`,
    `running=0; if [ -n "$pid" ] && tr '\\0' ' ' < /proc/$pid/cmdline 2>/dev/null | grep -qF ${quote(p.script)}; then running=1; fi`,
    'if [ $running = 1 ] && [ $changed = 0 ]; then echo "watchdog kept $pid"; exit 0; fi',
    'if [ $running = 1 ]; then kill "$pid"; action=restarted; else action=started; fi',
    `rm -f ${quote(p.pid)}`,
    `setsid -f /bin/sh ${quote(p.script)} </dev/null >>${quote(p.log)} 2>&1`,
    `n=0; until [ -s ${quote(p.pid)} ]; do n=$((n+1)); [ $n -lt 50 ] || { echo 'watchdog failed no pid file'; exit 1; }; sleep 0.1; done`,
    `echo "watchdog $action $(cat ${quote(p.pid)})"`,
  ].join('\n');
}
