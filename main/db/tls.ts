import { X509Certificate } from 'node:crypto';
import type { ConnectionOptions, PeerCertificate } from 'node:tls';
import { VlxError } from '../errors.js';
import type { DbEndpoint } from '../config/clusters.js';

/**
 * The cluster database's certificate is pinned like an SSH host key: `vlx db deploy` reads it
 * over the host-key-checked SSH link and stores it with the endpoint; the client accepts that
 * certificate and no other. There is no CA and no host name to check: the pin is the identity.
 */

/** Who is being connected to, for messages a person can act on. */
export interface DbTarget {
  cluster?: string;
  node: string;
  host: string;
  port: number;
}

/** The SHA-256 fingerprint of a PEM certificate, as OpenSSL and Node print it (AB:CD:…). */
export function certFingerprint(pem: string): string {
  try {
    return new X509Certificate(pem).fingerprint256;
  } catch (e) {
    throw new VlxError('invalid-input', `db tlsCert: not a readable PEM certificate (${(e as Error).message})`);
  }
}

function label(t: DbTarget): string {
  return `the database of cluster ${t.cluster ? `"${t.cluster}"` : '(unnamed)'} (${t.host}:${t.port} on node ${t.node})`;
}

function redeployHint(t: DbTarget): string {
  return `if its certificate was renewed on purpose, run \`vlx db deploy --nodes MEMBERS\`${t.cluster ? ` on cluster ${t.cluster}` : ''} (node ${t.node} is one): `
    + 'it reads the certificate over SSH (host key checked) and pins it; otherwise something may be intercepting the connection';
}

/** Marks the error our own check raised, so it maps to the pin message and not a generic TLS one. */
const PIN_MISMATCH = 'VLX_DB_CERT_MISMATCH';

/** TLS options for pg: only the pinned certificate is accepted (chain check against it, then its fingerprint). */
export function pinnedTls(endpoint: DbEndpoint, target: DbTarget): ConnectionOptions {
  if (!endpoint.tlsCert) {
    throw new VlxError('host-key-unknown', `${label(target)} has no pinned TLS certificate in this workstation's config`,
      `run \`vlx db deploy --nodes MEMBERS\` (node ${target.node} is one): it reads the certificate over SSH and pins it`);
  }
  const want = certFingerprint(endpoint.tlsCert);
  return {
    ca: endpoint.tlsCert,
    rejectUnauthorized: true,
    // Called only after the chain check passed against the pinned certificate as the sole CA;
    // the fingerprint then rules out any other certificate that the pinned key might have signed.
    checkServerIdentity: (_host: string, cert: PeerCertificate) => {
      if (cert.fingerprint256 === want) return undefined;
      return Object.assign(new Error(`certificate SHA-256 ${cert.fingerprint256} is not the pinned ${want}`), { code: PIN_MISMATCH });
    },
  };
}

// What Node's TLS reports when the peer is not the pinned certificate (or not TLS at all).
const TLS_REFUSALS = new Set([
  PIN_MISMATCH, 'DEPTH_ZERO_SELF_SIGNED_CERT', 'SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'CERT_SIGNATURE_FAILURE', 'CERT_UNTRUSTED',
  'CERT_REJECTED', 'ERR_TLS_CERT_ALTNAME_INVALID', 'ERR_SSL_WRONG_VERSION_NUMBER',
]);
// The pinned certificate itself, judged by this workstation's clock.
const CLOCK = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID']);

/** A TLS failure against the pin → 'host-key-changed' (exit 6) naming the cluster and what to do; else undefined. */
export function tlsRefusal(e: unknown, target: DbTarget): VlxError | undefined {
  const err = e as { code?: string; message?: string };
  const msg = err?.message ?? String(e);
  if (/server does not support SSL/i.test(msg)) {
    return new VlxError('host-key-changed', `${label(target)} did not offer TLS, but this workstation pinned a certificate for it: refused`, redeployHint(target));
  }
  if (err?.code && CLOCK.has(err.code)) {
    return new VlxError('host-key-changed', `${label(target)}: its TLS certificate is ${err.code === 'CERT_HAS_EXPIRED' ? 'expired' : 'not valid yet'} by this workstation's clock (${msg})`,
      `check the clocks of this machine and node ${target.node}; \`vlx db deploy --nodes MEMBERS\` makes a new certificate only if it is missing`);
  }
  if (!err?.code || !TLS_REFUSALS.has(err.code)) return undefined;
  return new VlxError('host-key-changed',
    `${label(target)} presented a TLS certificate that is not the one pinned at deploy: refused (${msg})`, redeployHint(target));
}
