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

// `openssl ca` rather than `req -x509`: OpenSSL 3.0 can set the start date only there.
const CA_CONFIG = [
  '[ca]', 'default_ca = d', '[d]', 'dir = $ENV::VLX_CA_DIR', 'database = $dir/index.txt', 'new_certs_dir = $dir', 'serial = $dir/serial',
  'default_md = sha256', 'policy = p', 'unique_subject = no', 'x509_extensions = e',
  '[p]', 'commonName = supplied', '[e]', 'basicConstraints = critical, CA:TRUE', 'subjectKeyIdentifier = hash',
];

/**
 * Make the server's self-signed certificate once (kept across deploys: it is what every
 * workstation pinned), key 0600 owned by postgres; print `made` or `kept`, then the PEM.
 * The key never leaves the node. EC P-256: quick to make, and every TLS client speaks it.
 * Valid from 2000 to 2100: a workstation whose clock is behind the node's must not find the
 * new certificate "not yet valid", and renewing a pinned certificate means re-pinning everywhere.
 */
export function serverCertScript(p: TlsPaths, commonName: string): string {
  const [key, cert] = [`${p.key}.vlx-tmp`, `${p.cert}.vlx-tmp`];
  const make = [
    'umask 077',
    'export VLX_CA_DIR="$(mktemp -d)"',
    'trap \'rm -rf "$VLX_CA_DIR"\' EXIT',
    `printf '%s\\n' ${CA_CONFIG.map((l) => sh(l)).join(' ')} > "$VLX_CA_DIR/ca.cnf"`,
    ': > "$VLX_CA_DIR/index.txt"',
    'openssl rand -hex 16 > "$VLX_CA_DIR/serial"',
    sh('openssl', 'req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', `/CN=${commonName}`,
      '-keyout', key) + ' -out "$VLX_CA_DIR/req.csr"',
    `openssl ca -batch -notext -config "$VLX_CA_DIR/ca.cnf" -selfsign -in "$VLX_CA_DIR/req.csr" ${sh('-keyfile', key, '-out', cert)}`
      + ' -startdate 20000101000000Z -enddate 21000101000000Z',
    sh('mv', key, p.key),
    sh('mv', cert, p.cert),
  ].join(' && ');
  return [
    'set -e',
    `${sh('install', '-d', '-o', 'postgres', '-g', 'postgres', '-m', '0700', p.dir)}`,
    `if [ -s ${sh(p.cert)} ] && [ -s ${sh(p.key)} ]; then made=kept; else`,
    `  ${sh('runuser', '-u', 'postgres', '--', 'sh', '-c', make)} >&2 </dev/null`,
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
  return parseMadeCert(out, 'certificate script');
}

/** A certificate script's output: `made` or `kept` on its first line, then one certificate's PEM. */
export function parseMadeCert(out: string, script: string): { made: boolean; pem: string } {
  const nl = out.indexOf('\n');
  const word = out.slice(0, nl).trim();
  const pem = out.slice(nl + 1).trim() + '\n';
  if ((word !== 'made' && word !== 'kept') || !/^-----BEGIN CERTIFICATE-----\n[\s\S]+\n-----END CERTIFICATE-----\n$/.test(pem)) {
    throw new VlxError('internal', `unexpected ${script} output: ${JSON.stringify(out.slice(0, 200))}`);
  }
  return { made: word === 'made', pem };
}
