// Certificate pinning, against a real TLS server on loopback with real certificates.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, createServer as createTlsServer } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DbEndpoint } from '../../main/config/clusters.js';
import { mapPgError } from '../../main/db/client.js';
import { certFingerprint, pinnedTls, tlsRefusal, type DbTarget } from '../../main/db/tls.js';
import { VlxError } from '../../main/errors.js';
import { outcome } from '../support/outcome.js';

let dir: string;
const certs: Record<'a' | 'b', { cert: string; key: string }> = {} as never;
const servers: Server[] = [];
const target: DbTarget = { cluster: 'prod', node: 'n2', host: '127.0.0.1', port: 5432 };

function makeCert(name: string): { cert: string; key: string } {
  const [cert, key] = [join(dir, `${name}.crt`), join(dir, `${name}.key`)];
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '30',
    '-subj', `/CN=vlx-db ${name}`, '-keyout', key, '-out', cert], { stdio: 'ignore' });
  return { cert: readFileSync(cert, 'utf8'), key: readFileSync(key, 'utf8') };
}

async function tlsServer(c: { cert: string; key: string }): Promise<number> {
  const s = createTlsServer({ cert: c.cert, key: c.key }, (sock) => sock.end('hello'));
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return (s.address() as { port: number }).port;
}

function endpoint(pin?: string): DbEndpoint {
  return { node: 'n2', host: '127.0.0.1', port: 5432, database: 'virtualinux', user: 'vlx_1', password: 'p', ...(pin ? { tlsCert: pin } : {}) };
}

/** Connect as the db client would; resolves with what the server said, rejects with the TLS error. */
function handshake(port: number, pin: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, ...pinnedTls(endpoint(pin), target) });
    let got = '';
    s.on('data', (d) => (got += d));
    s.on('end', () => resolve(got));
    s.on('error', reject);
  });
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'vlx-tls-'));
  certs.a = makeCert('a');
  certs.b = makeCert('b');
});
afterAll(() => {
  for (const s of servers) s.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('pinned TLS to the cluster database', () => {
  it('the pinned certificate is accepted (no CA, and the IP is in no SAN: the pin is the identity)', async () => {
    expect(await handshake(await tlsServer(certs.a), certs.a.cert)).toBe('hello');
  });

  it('any other certificate is refused, and maps to host-key-changed naming the cluster, node and the way out', async () => {
    const port = await tlsServer(certs.b);
    const err = await handshake(port, certs.a.cert).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    const mapped = tlsRefusal(err, target)!;
    expect(mapped).toBeInstanceOf(VlxError);
    expect(mapped.code).toBe('host-key-changed');
    expect(mapped.message).toMatch(/^the database of cluster "prod" \(127\.0\.0\.1:5432 on node n2\) presented a TLS certificate that is not the one pinned at deploy: refused/);
    expect(mapped.hint).toContain('vlx db deploy --nodes');
    // through the client's error mapping too
    expect(mapPgError(err, 'vlx_1@127.0.0.1:5432/virtualinux', target).code).toBe('host-key-changed');
  });

  it('a server that offers no TLS at all is refused the same way', () => {
    const e = tlsRefusal(new Error('The server does not support SSL connections'), target)!;
    expect(e.code).toBe('host-key-changed');
    expect(e.message).toContain('did not offer TLS');
  });

  it('an endpoint without a pin is refused before any connection, pointing at the deploy', () => {
    expect(outcome(() => pinnedTls(endpoint(), target))).toEqual({
      code: 'host-key-unknown', message: 'the database of cluster "prod" (127.0.0.1:5432 on node n2) has no pinned TLS certificate in this workstation\'s config',
    });
  });

  it('the fingerprint is OpenSSL\'s SHA-256 one', () => {
    const openssl = execFileSync('openssl', ['x509', '-noout', '-fingerprint', '-sha256'], { input: certs.a.cert, encoding: 'utf8' });
    expect(openssl.trim().split('=')[1]).toBe(certFingerprint(certs.a.cert));
    expect(outcome(() => certFingerprint('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n'))).toMatchObject({ code: 'invalid-input' });
  });

  it('a plain TCP listener (no TLS) is not mistaken for the pinned server', async () => {
    const plain = createServer((s) => s.end('not tls\n'));
    servers.push(plain as unknown as Server);
    await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r));
    const err = await handshake((plain.address() as { port: number }).port, certs.a.cert).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
  });
});
