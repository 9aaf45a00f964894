import ssh2 from 'ssh2';
import { connect as netConnect } from 'node:net';
import { VlxError } from '../errors.js';
import { appPaths } from '../config/paths.js';
import { checkAddress, checkInt } from '../util/names.js';
import { addKnownHost, fingerprintSha256, hostPattern, lookupHost, type KnownKey } from './knownHosts.js';
import { normaliseSshError } from './errors.js';

/**
 * Host-key policy, written as a decision table so it can be read and tested whole:
 *
 *   what known_hosts says         | accept-new off            | accept-new on
 *   ------------------------------+---------------------------+--------------------------
 *   the presented key is listed   | connect                   | connect
 *   nothing for this host:port    | refuse (host-key-unknown) | remember, then connect
 *   other keys for this host:port | refuse (host-key-changed) | refuse (host-key-changed)
 *
 * A changed key is never replaced automatically, whatever the caller asked for.
 */
export type HostKeyStatus = 'match' | 'unknown' | 'changed';
export type HostKeyVerdict = 'connect' | 'remember-and-connect' | 'refuse-unknown' | 'refuse-changed';

export function classifyHostKey(presented: KnownKey, known: readonly KnownKey[]): HostKeyStatus {
  if (known.length === 0) return 'unknown';
  return known.some((k) => k.keyType === presented.keyType && k.keyBase64 === presented.keyBase64) ? 'match' : 'changed';
}

export function decideHostKey(status: HostKeyStatus, acceptNew: boolean): HostKeyVerdict {
  switch (status) {
    case 'match':
      return 'connect';
    case 'unknown':
      return acceptNew ? 'remember-and-connect' : 'refuse-unknown';
    case 'changed':
      return 'refuse-changed';
  }
}

/** The key types we may ask a server for, for each known_hosts key type. */
const ALGOS_FOR_TYPE: Record<string, string[]> = {
  'ssh-ed25519': ['ssh-ed25519'],
  'ecdsa-sha2-nistp256': ['ecdsa-sha2-nistp256'],
  'ecdsa-sha2-nistp384': ['ecdsa-sha2-nistp384'],
  'ecdsa-sha2-nistp521': ['ecdsa-sha2-nistp521'],
  'ssh-rsa': ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'],
};
const DEFAULT_ORDER = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'];

/**
 * Ask the server first for a key type we already know for it (as OpenSSH does), so a server
 * that has several host keys is compared with the one we stored rather than reported as
 * changed because the negotiation picked another type.
 */
export function hostKeyAlgorithms(known: readonly KnownKey[]): string[] {
  const first = known.flatMap((k) => ALGOS_FOR_TYPE[k.keyType] ?? []);
  return [...new Set([...first, ...DEFAULT_ORDER])];
}

export function presentedKey(raw: Buffer): KnownKey {
  const parsed = ssh2.utils.parseKey(raw);
  const keyType = parsed instanceof Error ? 'unknown' : (Array.isArray(parsed) ? parsed[0] : parsed).type;
  return { keyType, keyBase64: raw.toString('base64') };
}

export interface HostKeyTarget {
  node: string;
  address: string;
  port: number;
}

export interface HostKeyOptions {
  /** Remember a key seen for the first time; default: VLX_ACCEPT_NEW_HOST_KEY=1 (set by --accept-new-host-key). */
  acceptNew?: boolean;
  knownHostsFile?: string;
}

export function acceptNewFromEnv(): boolean {
  return process.env.VLX_ACCEPT_NEW_HOST_KEY === '1';
}

export function hostKeyError(verdict: 'refuse-unknown' | 'refuse-changed', t: HostKeyTarget, key: KnownKey, known: readonly KnownKey[], file: string): VlxError {
  const where = `node ${t.node} (${t.address}:${t.port})`;
  const fp = fingerprintSha256(key.keyBase64);
  const details = { node: t.node, address: t.address, port: t.port, keyType: key.keyType, fingerprint: fp };
  if (verdict === 'refuse-unknown') {
    return new VlxError(
      'host-key-unknown',
      `${where} is not known yet: it presents the ${key.keyType} host key ${fp}`,
      'if that fingerprint is the node\'s (check on its console: ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub), run again with --accept-new-host-key',
      details,
    );
  }
  const was = known.map((k) => `${k.keyType} ${fingerprintSha256(k.keyBase64)}`).join(', ');
  return new VlxError(
    'host-key-changed',
    `HOST KEY CHANGED for ${where}: it presents ${key.keyType} ${fp}, but ${file} has ${was}. ` +
      'Someone may be intercepting the connection; refused.',
    `if the node was reinstalled on purpose, delete the line for ${hostPattern(t.address, t.port)} from ${file} and connect again to see the new fingerprint`,
    { ...details, known: was },
  );
}

/**
 * A verifier for one connection attempt. ssh2 only learns "rejected", so the reason is kept
 * here for the caller to throw instead of ssh2's "Host denied (verification failed)".
 */
export function makeHostVerifier(t: HostKeyTarget, opts: HostKeyOptions = {}) {
  const file = opts.knownHostsFile ?? appPaths.knownHosts();
  const known = lookupHost(t.address, t.port, file);
  const acceptNew = opts.acceptNew ?? acceptNewFromEnv();
  let refusal: VlxError | undefined;
  return {
    algorithms: hostKeyAlgorithms(known),
    verify: (raw: Buffer): boolean => {
      const key = presentedKey(raw);
      const verdict = decideHostKey(classifyHostKey(key, known), acceptNew);
      if (verdict === 'connect') return true;
      if (verdict === 'remember-and-connect') {
        addKnownHost(t.address, t.port, key, file);
        return true;
      }
      refusal = hostKeyError(verdict, t, key, known, file);
      return false;
    },
    refusal: (): VlxError | undefined => refusal,
  };
}

export interface HostKeyProbe {
  keyType: string;
  keyBase64: string;
  fingerprint: string;
  known: HostKeyStatus;
}

/**
 * What a host presents and how it compares with known_hosts, without authenticating:
 * the GUI shows this in its first-contact dialog before anything is remembered.
 */
export async function probeHostKey(address: string, port = 22, opts: { knownHostsFile?: string; timeoutMs?: number } = {}): Promise<HostKeyProbe> {
  checkAddress(address);
  checkInt(port, 'port', 1, 65535);
  const file = opts.knownHostsFile ?? appPaths.knownHosts();
  const known = lookupHost(address, port, file);
  const timeoutMs = opts.timeoutMs ?? 5000;
  const target = { node: address, address, port };
  return new Promise<HostKeyProbe>((resolve, reject) => {
    const client = new ssh2.Client();
    let seen: KnownKey | undefined;
    let settled = false;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      client.removeAllListeners();
      client.on('error', () => {});
      client.end();
      sock.destroy();
      fn();
    };
    const timer = setTimeout(() => {
      const e = Object.assign(new Error('connect timeout'), { code: 'connect-timeout' });
      finish(() => reject(normaliseSshError(e, target)));
    }, timeoutMs);
    const sock = netConnect({ host: address, port });
    sock.setNoDelay(true);
    sock.once('error', (e) => finish(() => reject(normaliseSshError(e, target))));
    sock.once('connect', () => {
      client.on('error', (e) => {
        if (seen) {
          const key = seen;
          finish(() => resolve({ ...key, fingerprint: fingerprintSha256(key.keyBase64), known: classifyHostKey(key, known) }));
        } else {
          finish(() => reject(normaliseSshError(e, target)));
        }
      });
      client.connect({
        sock,
        username: 'probe',
        readyTimeout: timeoutMs,
        algorithms: { serverHostKey: hostKeyAlgorithms(known) as never },
        hostVerifier: (raw: Buffer) => {
          seen = presentedKey(raw);
          // Refusing ends the handshake here: the probe never authenticates.
          return false;
        },
      });
    });
  });
}

/**
 * Remember a host key the person accepted after seeing its fingerprint. The host is asked
 * again and must still present that very key; a key that replaces a known one is refused.
 */
export async function acceptHostKey(address: string, port: number, fingerprint: string, opts: { knownHostsFile?: string } = {}): Promise<HostKeyProbe> {
  const file = opts.knownHostsFile ?? appPaths.knownHosts();
  const probe = await probeHostKey(address, port, { knownHostsFile: file });
  const target = { node: address, address, port };
  const known = lookupHost(address, port, file);
  if (probe.known === 'changed') throw hostKeyError('refuse-changed', target, probe, known, file);
  if (probe.fingerprint !== fingerprint) {
    throw new VlxError(
      'host-key-changed',
      `${address}:${port} now presents ${probe.keyType} ${probe.fingerprint}, not the ${fingerprint} that was accepted; nothing remembered`,
      'look at the fingerprint again before accepting',
    );
  }
  if (probe.known === 'unknown') addKnownHost(address, port, probe, file);
  return { ...probe, known: 'match' };
}
