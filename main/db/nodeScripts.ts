import { VlxError } from '../errors.js';
import { sh } from '../util/quote.js';

/**
 * Shell scripts the deploy runs on the database node, as pure functions of their paths so
 * what runs there is tested without a node. Every path goes through sh().
 */

/**
 * Is the postmaster.pid of `data` a live postmaster of THAT data directory? Prints
 * `running PID`, `stopped`, or `stale PID` after removing the pid file.
 *
 * `pg_ctl status` (and the postmaster's own start-up check) believe the pid file whenever any
 * process has that pid. After a power cut the pid is often reused by another process, and
 * PostgreSQL would then never start again. A live postmaster of this data dir runs the
 * postgres binary, sits in the data dir (it chdirs there) and shares our mount namespace
 * (lab nodes share one pid space, and every lab node's data dir has the same path).
 *
 * With no postmaster running, the socket lock files in `sockets` (the app's own socket dir)
 * are stale too: PostgreSQL checks their pid the same trusting way, so they go as well.
 */
export function pidFileCheckScript(data: string, sockets: string): string {
  const clearSockets = `rm -f -- ${sh(sockets)}/.s.PGSQL.*`;
  return [
    `data=$(readlink -f ${sh(data)}) || data=${sh(data)}`,
    'f="$data/postmaster.pid"',
    `if [ ! -e "$f" ]; then ${clearSockets}; echo stopped; exit 0; fi`,
    'pid=$(head -n 1 "$f" 2>/dev/null)',
    'case "$pid" in',
    `  ''|*[!0-9]*) rm -f "$f"; ${clearSockets}; echo "stale unreadable"; exit 0 ;;`,
    'esac',
    'exe=$(readlink "/proc/$pid/exe" 2>/dev/null)',
    'cwd=$(readlink "/proc/$pid/cwd" 2>/dev/null)',
    'mnt=$(readlink "/proc/$pid/ns/mnt" 2>/dev/null)',
    'if [ "${exe##*/}" = postgres ] && [ "$cwd" = "$data" ] && [ "$mnt" = "$(readlink /proc/self/ns/mnt)" ]; then',
    '  echo "running $pid"',
    'else',
    '  rm -f "$f"',
    `  ${clearSockets}`,
    '  echo "stale $pid"',
    'fi',
    '',
  ].join('\n');
}

/** `running 123` / `stopped` / `stale 123` → what the deploy acts on. */
export function parsePidFileCheck(out: string): { state: 'running' | 'stopped' | 'stale'; pid?: number } {
  const [word, pid] = out.trim().split(/\s+/);
  if (word !== 'running' && word !== 'stopped' && word !== 'stale') throw new VlxError('internal', `unexpected pid file check output: ${JSON.stringify(out)}`);
  return Number.isInteger(Number(pid)) && pid ? { state: word, pid: Number(pid) } : { state: word };
}

export interface TlsPaths {
  dir: string;
  cert: string;
  key: string;
}

/**
 * Make the server's self-signed certificate once (kept across deploys: it is what every
 * workstation pinned), key 0600 owned by postgres; print `made` or `kept`, then the PEM.
 * The key never leaves the node. EC P-256: quick to make, and every TLS client speaks it.
 */
export function serverCertScript(p: TlsPaths, commonName: string): string {
  const make = [
    'umask 077',
    sh('openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      // a pinned certificate must not run out: renewing it means re-pinning on every workstation
      '-days', '36500', '-subj', `/CN=${commonName}`, '-keyout', `${p.key}.vlx-tmp`, '-out', `${p.cert}.vlx-tmp`) + ' 2>&1 >/dev/null',
    sh('mv', `${p.key}.vlx-tmp`, p.key),
    sh('mv', `${p.cert}.vlx-tmp`, p.cert),
  ].join(' && ');
  return [
    'set -e',
    `${sh('install', '-d', '-o', 'postgres', '-g', 'postgres', '-m', '0700', p.dir)}`,
    `if [ -s ${sh(p.cert)} ] && [ -s ${sh(p.key)} ]; then made=kept; else`,
    `  ${sh('runuser', '-u', 'postgres', '--', 'sh', '-c', make)} >&2`,
    '  made=made',
    'fi',
    sh('chown', 'postgres:postgres', p.cert, p.key),
    sh('chmod', '0600', p.key),
    sh('chmod', '0644', p.cert),
    'echo "$made"',
    sh('cat', p.cert),
    '',
  ].join('\n');
}

/** The first line (`made`/`kept`) and the PEM from serverCertScript's output. */
export function parseServerCert(out: string): { made: boolean; pem: string } {
  const nl = out.indexOf('\n');
  const word = out.slice(0, nl).trim();
  const pem = out.slice(nl + 1).trim() + '\n';
  if ((word !== 'made' && word !== 'kept') || !/^-----BEGIN CERTIFICATE-----\n[\s\S]+\n-----END CERTIFICATE-----\n$/.test(pem)) {
    throw new VlxError('internal', `unexpected certificate script output: ${JSON.stringify(out.slice(0, 200))}`);
  }
  return { made: word === 'made', pem };
}
