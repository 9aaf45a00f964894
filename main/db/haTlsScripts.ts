import { VlxError } from '../errors.js';
import { sh } from '../util/quote.js';
import { HA_TLS, HA_TLS_DIR } from './haConfig.js';
import { parseMadeCert } from './nodeScripts.js';

/**
 * Scripts that make the cluster CA and the certificates it signs, on a member, as pure
 * functions so what runs there is tested without a node. Every path goes through sh().
 * EC P-256 (quick to make; Go, Python and Node all speak it). Valid from 2000 to 2100, as
 * the database's own certificate: a clock behind the node's must not find them "not yet valid".
 */

// `openssl ca` rather than `req -x509`/`x509 -req`: OpenSSL 3.0 can set the start date only there.
const CA_CONFIG = [
  '[ca]', 'default_ca = d',
  '[d]', 'dir = $ENV::VLX_CA_DIR', 'database = $dir/index.txt', 'new_certs_dir = $dir', 'serial = $dir/serial',
  'default_md = sha256', 'policy = p', 'unique_subject = no', 'copy_extensions = none',
  '[p]', 'commonName = supplied',
  '[ca_ext]', 'basicConstraints = critical, CA:TRUE', 'keyUsage = critical, keyCertSign, cRLSign', 'subjectKeyIdentifier = hash',
  '[member_ext]', 'basicConstraints = critical, CA:FALSE', 'keyUsage = critical, digitalSignature', 'extendedKeyUsage = serverAuth, clientAuth',
  'subjectAltName = $ENV::VLX_SAN', 'authorityKeyIdentifier = keyid',
  '[client_ext]', 'basicConstraints = critical, CA:FALSE', 'keyUsage = critical, digitalSignature', 'extendedKeyUsage = clientAuth',
  'authorityKeyIdentifier = keyid',
];

const DATES = '-startdate 20000101000000Z -enddate 21000101000000Z';

/** A scratch CA directory (removed on exit) and a key + request for CN in it: $T/req.key, $T/req.csr. */
function scratch(commonName: string): string[] {
  return [
    'umask 077',
    'export VLX_CA_DIR="$(mktemp -d)"',
    'T="$VLX_CA_DIR"',
    'trap \'rm -rf "$VLX_CA_DIR"\' EXIT',
    // the config names VLX_SAN: it must be set even where no SAN is wanted
    'export VLX_SAN="${VLX_SAN:-IP:127.0.0.1}"',
    `printf '%s\\n' ${CA_CONFIG.map((l) => sh(l)).join(' ')} > "$T/ca.cnf"`,
    ': > "$T/index.txt"',
    'openssl rand -hex 16 > "$T/serial"',
    `${sh('openssl', 'req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', `/CN=${commonName}`)} -keyout "$T/req.key" -out "$T/req.csr"`,
  ];
}

function signWithCa(ext: string): string {
  return `openssl ca -batch -notext -config "$T/ca.cnf" ${sh('-cert', HA_TLS.ca, '-keyfile', HA_TLS.caKey, '-extensions', ext)} -in "$T/req.csr" -out "$T/req.crt" ${DATES}`;
}

/** The CA once per cluster (kept across deploys); prints `made` or `kept`, then its certificate. */
export function makeCaScript(cluster: string): string {
  return [
    'set -e',
    sh('install', '-d', '-o', 'postgres', '-g', 'postgres', '-m', '0700', HA_TLS_DIR),
    `if [ -s ${sh(HA_TLS.ca)} ] && [ -s ${sh(HA_TLS.caKey)} ]; then echo kept; else (`,
    ...scratch(`vlx-ha-ca ${cluster}`),
    `openssl ca -batch -notext -config "$T/ca.cnf" -selfsign -keyfile "$T/req.key" -extensions ca_ext -in "$T/req.csr" -out "$T/req.crt" ${DATES}`,
    `mv "$T/req.key" ${sh(HA_TLS.caKey)}`,
    `mv "$T/req.crt" ${sh(HA_TLS.ca)}`,
    `); echo made; fi`,
    sh('chown', 'root:root', HA_TLS.caKey),
    sh('chmod', '0600', HA_TLS.caKey),
    sh('chmod', '0644', HA_TLS.ca),
    sh('cat', HA_TLS.ca),
    '',
  ].join('\n');
}

/**
 * This member's certificate: kept while the cluster CA signed it and it names ADDRESS, else
 * issued anew. Then etcd's own copies (owned by etcd). Prints `issued` or `kept`, and
 * `etcd-changed` when etcd's copies changed (etcd reads them only at start).
 */
export function memberCertScript(node: string, address: string): string {
  const san = `IP:${address},IP:127.0.0.1`;
  return [
    'set -e',
    `if [ -s ${sh(HA_TLS.cert)} ] && [ -s ${sh(HA_TLS.key)} ] && openssl verify -CAfile ${sh(HA_TLS.ca, HA_TLS.cert)} >/dev/null 2>&1 `
      + `&& openssl x509 -in ${sh(HA_TLS.cert)} -noout -ext subjectAltName 2>/dev/null | grep -qF ${sh(`IP Address:${address}, IP Address:127.0.0.1`)}; then echo kept; else (`,
    ...scratch(`vlx-ha ${node}`),
    `export VLX_SAN=${sh(san)}`,
    signWithCa('member_ext'),
    `mv "$T/req.key" ${sh(HA_TLS.key)}`,
    `mv "$T/req.crt" ${sh(HA_TLS.cert)}`,
    '); echo issued; fi',
    sh('chown', 'postgres:postgres', HA_TLS.cert, HA_TLS.key),
    sh('chmod', '0600', HA_TLS.key),
    sh('chmod', '0644', HA_TLS.cert),
    sh('install', '-d', '-o', 'etcd', '-g', 'etcd', '-m', '0700', HA_TLS.etcdDir),
    ...([[HA_TLS.ca, HA_TLS.etcdCa], [HA_TLS.cert, HA_TLS.etcdCert], [HA_TLS.key, HA_TLS.etcdKey]] as const).map(([from, to]) =>
      `if ! cmp -s ${sh(from, to)}; then ${sh('install', '-o', 'etcd', '-g', 'etcd', '-m', '0600', from, to)}; echo etcd-changed; fi`),
    '',
  ].join('\n');
}

export function parseMemberCert(out: string): { issued: boolean; etcdChanged: boolean } {
  const lines = out.trim().split('\n').map((l) => l.trim());
  if (lines[0] !== 'issued' && lines[0] !== 'kept') throw new VlxError('internal', `unexpected member certificate script output: ${JSON.stringify(out.slice(0, 200))}`);
  return { issued: lines[0] === 'issued', etcdChanged: lines.includes('etcd-changed') };
}

/** A client certificate for a workstation (etcd and Patroni's REST ask for one); key and certificate on stdout, nothing kept. */
export function clientCertScript(commonName: string): string {
  return [
    'set -e',
    ...scratch(commonName),
    signWithCa('client_ext'),
    'cat "$T/req.key" "$T/req.crt"',
    '',
  ].join('\n');
}

const PEM = (label: string) => new RegExp(`-----BEGIN ${label}-----\\n[\\s\\S]+?\\n-----END ${label}-----\\n?`);

export function parseClientCert(out: string): { key: string; cert: string } {
  const key = PEM('PRIVATE KEY').exec(out)?.[0];
  const cert = PEM('CERTIFICATE').exec(out)?.[0];
  if (!key || !cert) throw new VlxError('internal', 'the client certificate script printed no key and certificate');
  return { key: key.endsWith('\n') ? key : `${key}\n`, cert: cert.endsWith('\n') ? cert : `${cert}\n` };
}

/** The first line (`made`/`kept`) and the CA's PEM from makeCaScript's output. */
export function parseCa(out: string): { made: boolean; pem: string } {
  return parseMadeCert(out, 'CA script');
}
