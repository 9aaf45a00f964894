import { VlxError } from '../errors.js';

/**
 * ssh2 and the socket layer report failures tersely ("connect ECONNREFUSED 10.77.0.3:22",
 * "All configured authentication methods failed"). A person needs the node, the address
 * and what to try, so every connection failure goes through here once.
 */
export interface SshTarget {
  node: string;
  address: string;
  port: number;
  user?: string;
}

type RawError = Error & { code?: string; level?: string; errno?: number };

export function normaliseSshError(e: unknown, t: SshTarget): VlxError {
  if (e instanceof VlxError) return e;
  const err = (e instanceof Error ? e : new Error(String(e))) as RawError;
  const where = `node ${t.node} (${t.address}:${t.port})`;
  const details = { node: t.node, address: t.address, port: t.port, cause: err.message };
  const code = err.code ?? '';
  const msg = err.message ?? '';

  if (code === 'ECONNREFUSED') {
    return new VlxError('unreachable', `${where} refused the connection`, 'is sshd running on the node, on this port?', details);
  }
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'EHOSTDOWN' || code === 'ENETDOWN') {
    return new VlxError('unreachable', `${where} is unreachable (no route to host)`, 'is the node powered on and on the network?', details);
  }
  if (code === 'ENOTFOUND' || code === 'EAI_AGAIN' || err.level === 'client-dns') {
    return new VlxError('unreachable', `${where}: the host name does not resolve`, 'check the address', details);
  }
  if (code === 'ECONNRESET' || code === 'EPIPE' || /Connection lost before handshake/i.test(msg)) {
    return new VlxError('unreachable', `${where} closed the connection during the SSH handshake`, 'check sshd on the node and its logs', details);
  }
  if (code === 'ETIMEDOUT' || code === 'connect-timeout') {
    return new VlxError('unreachable', `${where} did not answer (connection timed out)`, 'is the node powered on and on the network?', details);
  }
  if (err.level === 'client-timeout' || /Timed out while waiting for handshake/i.test(msg)) {
    const ka = /keepalive/i.test(msg);
    return new VlxError(
      ka ? 'unreachable' : 'timeout',
      ka ? `${where} stopped answering (keep-alive timed out)` : `${where} accepted the connection but the SSH handshake timed out`,
      ka ? 'the node may have crashed or lost its network' : 'the node may be overloaded, or the port is not an SSH server',
      details,
    );
  }
  if (err.level === 'client-authentication' || /authentication methods failed/i.test(msg)) {
    const who = t.user ? `${t.user}@` : '';
    return new VlxError('auth-failed', `${where}: the key was refused for ${who}${t.address}`, 'check the key file (--key) or the keys in your SSH agent, and authorized_keys on the node', details);
  }
  if (err.level === 'agent') {
    return new VlxError('auth-failed', `${where}: the SSH agent failed: ${msg}`, 'check $SSH_AUTH_SOCK, or give a key file with --key', details);
  }
  if (/Cannot parse privateKey|Encrypted private OpenSSH key|no passphrase/i.test(msg)) {
    return new VlxError('auth-failed', `the private key cannot be used: ${msg}`, 'use an unencrypted key file, or load the key into your SSH agent and omit --key', details);
  }
  if (err.level === 'handshake' || err.level === 'protocol') {
    return new VlxError('unreachable', `${where}: SSH handshake failed: ${msg}`, undefined, details);
  }
  return new VlxError('unreachable', `${where}: ${msg || 'connection failed'}`, undefined, details);
}
