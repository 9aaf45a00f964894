import { NODE_RUN } from '../config/paths.js';
import { sh, quote } from '../util/quote.js';
import type { NodeFacts } from './plan.js';
import { NAT_TABLE, VRRP_INSTANCE, servicePaths, type ConfigFile } from './render.js';
import { storagePaths } from './storage.js';
import { nfsPaths, renderNfsScript, renderNfsStop } from '../network/sharedNfs.js';

/**
 * The shell run on a node for probe, deploy, status and stop, and the parsers of what they
 * print. Every value comes in through quote()/sh(); output is one tab-separated record per
 * line so a message with spaces stays one field.
 */

/** ganesha: the VC shared storage server (NFS-Ganesha), see network/sharedNfs. */
export const SERVICES = ['dnsmasq', 'keepalived', 'chronyd', 'ganesha'] as const;
export type ServiceName = (typeof SERVICES)[number];

/** How each daemon is recognised: its pid file names a live process started with our config. */
const DAEMON: Record<ServiceName, { pid: string; conf: string; command: string }> = {
  dnsmasq: { pid: servicePaths.dnsmasqPid, conf: servicePaths.dnsmasqConf, command: 'dnsmasq' },
  keepalived: { pid: servicePaths.keepalivedPid, conf: servicePaths.keepalivedConf, command: 'keepalived' },
  chronyd: { pid: servicePaths.chronyPid, conf: servicePaths.chronyConf, command: 'chronyd' },
  ganesha: { pid: nfsPaths.pid, conf: nfsPaths.conf, command: 'ganesha.nfsd' },
};

/**
 * Shell helpers shared by every script. A pid file may outlive its process (a crashed node
 * keeps /run/virtualinux), and a pid may be reused: only a live, non-zombie process whose
 * argv holds our config path counts.
 */
const PRELUDE = [
  'set -u',
  'rec() { printf "%s\\t%s\\t%s\\t%s\\n" "$1" "${2:-}" "${3:-}" "${4:-}"; }',
  'alive() { [ -r "/proc/$1/stat" ] && ! grep -q "^[0-9]* (.*) Z" "/proc/$1/stat" 2>/dev/null; }',
  'svcpid() { p=$(cat "$1" 2>/dev/null) || return 1; case "$p" in ""|*[!0-9]*) return 1;; esac; ' +
    'alive "$p" && tr "\\000" "\\n" < "/proc/$p/cmdline" 2>/dev/null | grep -qxF -- "$2" && echo "$p"; }',
  // TERM first: keepalived then gives up the VIP and runs its notify script (drops the NAT).
  'stoppid() { kill -TERM "$1" 2>/dev/null; i=0; while alive "$1" && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done; ' +
    'if alive "$1"; then kill -KILL "$1" 2>/dev/null; fi; }',
].join('\n');

function pidOf(s: ServiceName): string {
  return `svcpid ${quote(DAEMON[s].pid)} ${quote(DAEMON[s].conf)}`;
}

// ---------------------------------------------------------------- probe

/** What the plan needs from a node: its cluster interface and MAC, default route, tools. */
export function probeScript(address: string): string {
  return [
    // "2: eth0    inet 10.77.0.1/24 brd …": field 2 is the interface, field 4 the address.
    `iface=$(ip -o -4 addr show | awk ${quote(`{ split($4, a, "/"); if (a[1] == "${address}") { print $2; exit } }`)})`,
    'echo "iface=$iface"',
    'if [ -n "$iface" ]; then echo "mac=$(cat "/sys/class/net/$iface/address" 2>/dev/null)"; fi',
    `echo "out=$(ip -o -4 route show default | awk ${quote('{ for (i = 1; i < NF; i++) if ($i == "dev") { print $(i + 1); exit } }')})"`,
    'for t in dnsmasq keepalived nft chronyd; do if command -v "$t" >/dev/null 2>&1; then echo "tool_$t=1"; else echo "tool_$t=0"; fi; done',
  ].join('\n');
}

export function parseProbe(node: string, stdout: string): NodeFacts {
  const kv = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const at = line.indexOf('=');
    if (at > 0) kv.set(line.slice(0, at).trim(), line.slice(at + 1).trim());
  }
  const opt = (k: string) => {
    const v = kv.get(k);
    return v ? v : undefined;
  };
  const iface = opt('iface');
  const mac = opt('mac');
  const outIface = opt('out');
  return {
    node,
    ...(iface ? { iface } : {}),
    ...(mac ? { mac } : {}),
    ...(outIface ? { outIface } : {}),
    tools: {
      dnsmasq: kv.get('tool_dnsmasq') === '1',
      keepalived: kv.get('tool_keepalived') === '1',
      nft: kv.get('tool_nft') === '1',
      chronyd: kv.get('tool_chronyd') === '1',
    },
  };
}

// ---------------------------------------------------------------- deploy

export interface DeployScriptInput {
  files: ConfigFile[];
  tftpRoot: string;
  vip: string;
  prefix: number;
  iface: string;
  ntp: boolean;
  /** The gateway's public address (ip/prefix) and its interface, if it has a public side. */
  public?: { address: string; iface: string };
  /**
   * In the lab every node shares the host's one clock: chronyd there serves time but must
   * not set the clock (-x), or four daemons would steer the same clock.
   */
  keepClock: boolean;
}

/**
 * Write the files (only those whose content differs), then bring each daemon to "running
 * with this config": kept if it already is, reloaded or restarted if its config changed,
 * started if it is not running. Prints `file PATH written` and `svc NAME ACTION PID|MSG`.
 */
export function deployScript(i: DeployScriptInput): string {
  const p = servicePaths;
  const startErr = `${NODE_RUN}/services-start.err`;
  const vipDel = sh('ip', 'addr', 'del', `${i.vip}/${i.prefix}`, 'dev', i.iface);
  const nfsScript = `${NODE_RUN}/services-nfs.sh`;
  const nfsOut = `${NODE_RUN}/services-nfs.out`;
  return [
    PRELUDE,
    'umask 022',
    `${sh('mkdir', '-p', p.dir, p.hostsDir, NODE_RUN, i.tftpRoot)} || exit 1`,
    "changed=' '",
    'put() { printf "%s" "$3" | base64 -d > "$1.new" && chmod "$2" "$1.new" || exit 1; ' +
      'if cmp -s "$1.new" "$1"; then rm -f "$1.new"; else mv -f "$1.new" "$1" || exit 1; changed="$changed$1 "; rec file "$1" written; fi; }',
    'ischanged() { case "$changed" in *" $1 "*) return 0;; esac; return 1; }',
    ...i.files.map((f) => sh('put', f.path, f.mode.toString(8), Buffer.from(f.content).toString('base64'))),

    // dnsmasq re-reads its config only on restart. Its parent exits once the daemon has
    // bound its sockets, with a non-zero code and a message if it could not.
    `if p=$(${pidOf('dnsmasq')}) && ! ischanged ${quote(p.dnsmasqConf)}; then rec svc dnsmasq kept "$p"`,
    'else',
    `  if p=$(${pidOf('dnsmasq')}); then stoppid "$p"; fi`,
    `  if setsid dnsmasq -C ${quote(p.dnsmasqConf)} </dev/null >/dev/null 2>${quote(startErr)} && p=$(${pidOf('dnsmasq')}); then rec svc dnsmasq started "$p"`,
    `  else rec svc dnsmasq failed "$(tr '\\n\\t' '  ' < ${quote(startErr)})"; fi`,
    'fi',

    // The default route before the gateway's public side manages it: stop puts it back.
    ...(i.public ? [`if [ ! -e ${quote(p.defaultRouteOrig)} ]; then ip -o -4 route show default | head -n 1 > ${quote(p.defaultRouteOrig)}; fi`] : []),
    // keepalived re-reads its config on SIGHUP without giving up the VIP. A reload in the same
    // state notifies nobody: a changed NAT file or notify script is applied here, in the state
    // keepalived last reported (the holder's NAT, public address and route, or the route to the VIP).
    `if p=$(${pidOf('keepalived')}); then`,
    `  if ischanged ${quote(p.keepalivedConf)} || ischanged ${quote(p.notifyScript)}; then kill -HUP "$p"; rec svc keepalived reloaded "$p"; else rec svc keepalived kept "$p"; fi`,
    `  st=$(cat ${quote(p.gatewayState)} 2>/dev/null || true)`,
    `  if { ischanged ${quote(p.natNft)} || ischanged ${quote(p.notifyScript)}; } && [ -n "$st" ]; then ${sh(p.notifyScript, 'INSTANCE', VRRP_INSTANCE)} "$st" >/dev/null 2>&1; fi`,
    'else',
    // Whatever a keepalived killed hard left behind: its VIP and public address (duplicates) and NAT.
    `  ${vipDel} 2>/dev/null; ${sh('nft', 'delete', 'table', 'ip', NAT_TABLE)} 2>/dev/null; ${sh('rm', '-f', p.gatewayState)}`,
    ...(i.public ? [`  ${sh('ip', 'addr', 'del', i.public.address, 'dev', i.public.iface)} 2>/dev/null`] : []),
    `  if ! keepalived -t -f ${quote(p.keepalivedConf)} >${quote(startErr)} 2>&1; then rec svc keepalived failed "$(tr '\\n\\t' '  ' < ${quote(startErr)})"`,
    '  else',
    // This keepalived has no log file option: log to the console (-l) and send that to a file.
    `    setsid -f keepalived -l -D -n -P -f ${quote(p.keepalivedConf)} -p ${quote(p.keepalivedPid)} -r ${quote(p.keepalivedVrrpPid)} </dev/null >>${quote(p.keepalivedLog)} 2>&1`,
    '    n=0; until p=$(' + pidOf('keepalived') + ') && v=$(cat ' + quote(p.keepalivedVrrpPid) + ' 2>/dev/null) && alive "$v"; do',
    '      n=$((n+1)); if [ $n -gt 50 ]; then break; fi; sleep 0.1; done',
    `    if [ $n -le 50 ]; then rec svc keepalived started "$p"; else rec svc keepalived failed "$(tail -n 5 ${quote(p.keepalivedLog)} | tr '\\n\\t' '  ')"; fi`,
    '  fi',
    'fi',

    ...(i.ntp
      ? [
          `if p=$(${pidOf('chronyd')}) && ! ischanged ${quote(p.chronyConf)}; then rec svc chronyd kept "$p"`,
          'else',
          `  if p=$(${pidOf('chronyd')}); then stoppid "$p"; fi`,
          // chronyd opens its socket and writes its drift file as its own user (Debian: _chrony).
          `  ${sh('mkdir', '-p', p.chronyRunDir, p.chronyLibDir)} && chmod 770 ${quote(p.chronyRunDir)} && chmod 755 ${quote(NODE_RUN)}`,
          `  if id _chrony >/dev/null 2>&1; then ${sh('chown', '_chrony:_chrony', p.chronyRunDir, p.chronyLibDir)}; fi`,
          // The foreground chronyd waits for its daemon to be ready: bounded, so a stuck one fails the deploy instead of hanging it.
          `  if ${sh('timeout', '10', 'chronyd', ...(i.keepClock ? ['-x'] : []), '-f', p.chronyConf)} </dev/null >/dev/null 2>${quote(startErr)}; then`,
          `    n=0; until p=$(${pidOf('chronyd')}); do n=$((n+1)); if [ $n -gt 30 ]; then break; fi; sleep 0.1; done`,
          `    if [ $n -le 30 ]; then rec svc chronyd started "$p"; else rec svc chronyd failed "no pid file"; fi`,
          `  else rec svc chronyd failed "$(tr '\\n\\t' '  ' < ${quote(startErr)})"; fi`,
          'fi',
        ]
      : []),
    // The root server follows the storage address: started here if this node holds it already.
    `rec storage "$(${quote(p.storageScript)} converge 2>&1 | tail -n 1)"`,
    // The same script the network sync runs, without a VC list: the exports stay as they are.
    // Run from a file under a time bound: a stuck rpcbind or Ganesha must not hold the deploy.
    `printf '%s' ${quote(Buffer.from(renderNfsScript(undefined)).toString('base64'))} | base64 -d > ${quote(nfsScript)}`,
    `timeout 20 sh ${quote(nfsScript)} </dev/null > ${quote(nfsOut)} 2>&1`,
    `n=$(grep '^nfs ' ${quote(nfsOut)} | tail -n 1)`,
    'case "$n" in',
    `  "nfs failed"*) rec svc ganesha failed "\${n#nfs failed }" ;;`,
    `  "nfs kept"*|"nfs reloaded"*) rec svc ganesha kept "$(${pidOf('ganesha')})" ;;`,
    `  "nfs started"*|"nfs restarted"*) rec svc ganesha started "$(${pidOf('ganesha')})" ;;`,
    `  *) rec svc ganesha failed "no answer within 20 s: $(tail -n 3 ${quote(nfsOut)} | tr '\\n\\t' '  ')" ;;`,
    'esac',
  ].join('\n');
}

export type DeployAction = 'kept' | 'started' | 'reloaded' | 'failed';

export interface ServiceDeployResult {
  service: ServiceName;
  action: DeployAction;
  pid?: number;
  message?: string;
}

export interface DeployOutput {
  written: string[];
  services: ServiceDeployResult[];
}

function records(stdout: string): string[][] {
  return stdout.split('\n').filter((l) => l.includes('\t')).map((l) => l.split('\t'));
}

function isService(s: string): s is ServiceName {
  return (SERVICES as readonly string[]).includes(s);
}

function asPid(s: string | undefined): number | undefined {
  return s && /^\d+$/.test(s) ? Number(s) : undefined;
}

export function parseDeploy(stdout: string): DeployOutput {
  const out: DeployOutput = { written: [], services: [] };
  for (const [kind, a, b, c] of records(stdout)) {
    if (kind === 'file' && b === 'written') out.written.push(a);
    if (kind === 'svc' && isService(a) && ['kept', 'started', 'reloaded', 'failed'].includes(b)) {
      const action = b as DeployAction;
      if (action === 'failed') out.services.push({ service: a, action, message: (c ?? '').trim() || 'no message' });
      else {
        const pid = asPid(c);
        out.services.push({ service: a, action, ...(pid ? { pid } : {}) });
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------- status

/** Per service: running (with pid), stopped, or absent (not installed on the node). */
export function statusScript(): string {
  const p = servicePaths;
  return [
    PRELUDE,
    ...SERVICES.map((s) =>
      `if ! command -v ${DAEMON[s].command} >/dev/null 2>&1; then rec svc ${s} absent; elif p=$(${pidOf(s)}); then rec svc ${s} running "$p"; else rec svc ${s} stopped; fi`),
    `vip=$(sed -n 's/.*"vip":"\\([0-9.]*\\)".*/\\1/p' ${quote(p.stateJson)} 2>/dev/null)`,
    'if [ -n "$vip" ]; then rec deployed yes "$vip"; else rec deployed no; fi',
    'if [ -n "$vip" ] && ip -o -4 addr show | grep -qF " $vip/"; then rec vip held "$vip"; else rec vip free "$vip"; fi',
    `rec vrrp "$(cat ${quote(p.gatewayState)} 2>/dev/null)" -`,
    `pub=$(sed -n 's/.*"public":"\\([0-9./]*\\)".*/\\1/p' ${quote(p.stateJson)} 2>/dev/null)`,
    'if [ -n "$pub" ]; then if ip -o -4 addr show | grep -qF " ${pub%/*}/"; then rec public held "${pub%/*}"; else rec public free "${pub%/*}"; fi; fi',
    `if nft list table ip ${NAT_TABLE} >/dev/null 2>&1; then rec nat on; else rec nat off; fi`,
    `svip=$(sed -n 's/^VIP=\\([0-9.]*\\).*/\\1/p' ${quote(p.storageScript)} 2>/dev/null)`,
    `spid=$(svcpid ${quote(storagePaths.pid)} ${quote(storagePaths.pid)} || true)`,
    'if [ -n "$svip" ] && ip -o -4 addr show | grep -qF " $svip/"; then rec storage held "$svip" "$spid"; else rec storage free "$svip" "$spid"; fi',
    // chronyc -c tracking: refid hex, reference address, stratum, …, leap status (last field).
    `if ${pidOf('chronyd')} >/dev/null && t=$(chronyc -h ${quote(p.chronySocket)} -n -c tracking 2>/dev/null); then`,
    '  rec ntp "$(echo "$t" | cut -d, -f1)" "$(echo "$t" | cut -d, -f2)" "$(echo "$t" | cut -d, -f3),$(echo "$t" | awk -F, \'{ print $NF }\')"',
    'fi',
  ].join('\n');
}

export type ServiceState = 'running' | 'stopped' | 'absent';
export type VrrpState = 'MASTER' | 'BACKUP' | 'FAULT' | 'STOP';

export interface ServiceStatus {
  service: ServiceName;
  state: ServiceState;
  pid?: number;
}

/** What chronyd follows: a source by address, its own clock as the orphan root, or nothing. */
export interface NtpSync {
  /** Synchronised: a normal leap status and a stratum below 16. */
  synced: boolean;
  /** The address it follows; absent when it serves its own clock (orphan root) or none. */
  source?: string;
  /** It serves its own clock at the local stratum (the orphan root of a cluster with no upstream). */
  local: boolean;
  stratum: number;
}

/** The refid chronyd reports while it serves its own clock (127.127.1.1). */
const LOCAL_REFID = '7F7F0101';

export interface NodeServicesReport {
  deployed: boolean;
  ntp?: NtpSync;
  services: ServiceStatus[];
  vip?: string;
  holdsVip: boolean;
  /** The VRRP state last reported by keepalived; absent when keepalived is not running. */
  vrrp?: VrrpState;
  nat: boolean;
  /** The gateway's public address, and whether this node holds it (only with a public side). */
  public?: { address: string; holds: boolean };
  /** The root server of disk-less nodes: whether this node holds the storage address, and its server's pid. */
  storage?: { vip: string; holds: boolean; pid?: number };
}

export function parseStatus(stdout: string): NodeServicesReport {
  const r: NodeServicesReport = { deployed: false, services: [], holdsVip: false, nat: false };
  let vrrp: string | undefined;
  for (const [kind, a, b, c] of records(stdout)) {
    if (kind === 'svc' && isService(a) && (b === 'running' || b === 'stopped' || b === 'absent')) {
      const pid = b === 'running' ? asPid(c) : undefined;
      r.services.push({ service: a, state: b, ...(pid ? { pid } : {}) });
    }
    if (kind === 'deployed') {
      r.deployed = a === 'yes';
      if (b) r.vip = b;
    }
    if (kind === 'vip') r.holdsVip = a === 'held';
    if (kind === 'vrrp') vrrp = a;
    if (kind === 'nat') r.nat = a === 'on';
    if (kind === 'public' && b) r.public = { address: b, holds: a === 'held' };
    if (kind === 'storage' && b) {
      const pid = asPid(c);
      r.storage = { vip: b, holds: a === 'held', ...(pid ? { pid } : {}) };
    }
    if (kind === 'ntp') {
      const [stratum, leap] = (c ?? '').split(',');
      const st = /^\d+$/.test(stratum ?? '') ? Number(stratum) : 16;
      const local = a.toUpperCase() === LOCAL_REFID;
      const source = !local && b && b !== '0.0.0.0' ? b : undefined;
      r.ntp = { synced: leap?.trim() === 'Normal' && st < 16, local, stratum: st, ...(source ? { source } : {}) };
    }
  }
  const keepalivedUp = r.services.some((s) => s.service === 'keepalived' && s.state === 'running');
  if (keepalivedUp && (vrrp === 'MASTER' || vrrp === 'BACKUP' || vrrp === 'FAULT' || vrrp === 'STOP')) r.vrrp = vrrp;
  return r;
}

// ---------------------------------------------------------------- stop

/**
 * Stop every service keepalived first (it hands the VIP over while the others still answer),
 * then clear what a hard-killed keepalived could have left: the VIP and the NAT table.
 */
export function stopScript(): string {
  const p = servicePaths;
  return [
    PRELUDE,
    `vip=$(sed -n 's/.*"vip":"\\([0-9.]*\\)".*/\\1/p' ${quote(p.stateJson)} 2>/dev/null)`,
    `prefix=$(sed -n 's/.*"prefix":\\([0-9]*\\).*/\\1/p' ${quote(p.stateJson)} 2>/dev/null)`,
    `iface=$(sed -n 's/.*"iface":"\\([A-Za-z0-9_.-]*\\)".*/\\1/p' ${quote(p.stateJson)} 2>/dev/null)`,
    `pub=$(sed -n 's/.*"public":"\\([0-9./]*\\)".*/\\1/p' ${quote(p.stateJson)} 2>/dev/null)`,
    `pubif=$(sed -n 's/.*"publicIface":"\\([A-Za-z0-9_.-]*\\)".*/\\1/p' ${quote(p.stateJson)} 2>/dev/null)`,
    ...(['keepalived', 'dnsmasq', 'chronyd'] as const).map((s) =>
      `if p=$(${pidOf(s)}); then stoppid "$p"; rec svc ${s} stopped "$p"; else rec svc ${s} idle; fi`),
    'n=$( (',
    renderNfsStop().trimEnd(),
    ") 2>/dev/null | grep '^nfs ' | tail -n 1)",
    'if [ "$n" = "nfs stopped" ]; then rec svc ganesha stopped; else rec svc ganesha idle; fi',
    'if [ -n "$vip" ] && [ -n "$prefix" ] && [ -n "$iface" ]; then ip addr del "$vip/$prefix" dev "$iface" 2>/dev/null; fi',
    `${sh('nft', 'delete', 'table', 'ip', NAT_TABLE)} 2>/dev/null`,
    'if [ -n "$pub" ] && [ -n "$pubif" ]; then ip addr del "$pub" dev "$pubif" 2>/dev/null; fi',
    // The default route the node had before the public side managed it (word splitting intended).
    `if [ -e ${quote(p.defaultRouteOrig)} ]; then ip route del default 2>/dev/null; r=$(cat ${quote(p.defaultRouteOrig)}); if [ -n "$r" ]; then ip route add $r 2>/dev/null; fi; ${sh('rm', '-f', p.defaultRouteOrig)}; fi`,
    `${sh('rm', '-f', p.gatewayState)}`,
    `if [ -x ${quote(p.storageScript)} ]; then ${quote(p.storageScript)} - - STOP >/dev/null 2>&1; fi`,
    'true',
  ].join('\n');
}

export function parseStop(stdout: string): { service: ServiceName; stopped: boolean; pid?: number }[] {
  return records(stdout)
    .filter(([kind, a, b]) => kind === 'svc' && isService(a) && (b === 'stopped' || b === 'idle'))
    .map(([, a, b, c]) => {
      const pid = asPid(c);
      return { service: a as ServiceName, stopped: b === 'stopped', ...(pid ? { pid } : {}) };
    });
}
