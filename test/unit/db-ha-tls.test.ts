// The cluster CA scripts, run for real with this machine's openssl in a scratch directory
// (the node paths rewritten into it), and the certificates they make tried in real TLS
// handshakes with the app's own HTTPS client.
import { execFileSync } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { etcdGetScript, etcdctl, stopDaemonScript } from '../../main/db/haScripts.js';
import { errorText, getJson, type HaClientTls } from '../../main/db/haStatus.js';
import { clientCertScript, makeCaScript, memberCertScript, parseCa, parseClientCert, parseMemberCert } from '../../main/db/haTlsScripts.js';

let root: string;
const local = (script: string) => script.replaceAll('/var/lib/virtualinux', root);
const run = (script: string) => execFileSync('sh', ['-c', local(script)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
const file = (p: string) => readFileSync(join(root, p), 'utf8');
// The scripts chown to postgres and etcd, as on a member.
const users = (() => { try { execFileSync('id', ['postgres']); execFileSync('id', ['etcd']); return process.getuid?.() === 0; } catch { return false; } })();

beforeAll(() => { root = mkdtempSync(join(tmpdir(), 'vlx-hatls-')); });
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe.runIf(users)('cluster CA scripts (real openssl)', () => {
  let ca: string;
  let client: HaClientTls;

  it('makes the CA once, keeps it after; the CA key is root\'s alone', () => {
    const first = parseCa(run(makeCaScript('lab')));
    expect(first.made).toBe(true);
    const again = parseCa(run(makeCaScript('lab')));
    expect(again).toEqual({ made: false, pem: first.pem });
    ca = first.pem;
    const x = new X509Certificate(ca);
    expect(x.ca).toBe(true);
    expect(x.subject).toBe('CN=vlx-ha-ca lab');
    expect(x.validFrom).toMatch(/2000/);
    const key = statSync(join(root, 'pg/tls/ca.key'));
    expect([key.uid, key.mode & 0o777]).toEqual([0, 0o600]);
  });

  it('issues a member certificate for its address and 127.0.0.1, server and client; keeps it, re-issues for a new address', () => {
    expect(parseMemberCert(run(memberCertScript('n1', '10.77.0.1')))).toEqual({ issued: true, etcdChanged: true });
    expect(parseMemberCert(run(memberCertScript('n1', '10.77.0.1')))).toEqual({ issued: false, etcdChanged: false });
    const x = new X509Certificate(file('pg/tls/member.crt'));
    expect(x.subjectAltName).toBe('IP Address:10.77.0.1, IP Address:127.0.0.1');
    expect(x.keyUsage).toEqual(expect.arrayContaining(['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']));
    expect(x.verify(new X509Certificate(ca).publicKey)).toBe(true);
    expect(file('etcd/tls/member.key')).toBe(file('pg/tls/member.key'));
    const etcdKey = statSync(join(root, 'etcd/tls/member.key'));
    expect(etcdKey.mode & 0o777).toBe(0o600);
    expect(etcdKey.uid).toBe(Number(execFileSync('id', ['-u', 'etcd'], { encoding: 'utf8' })));
    // n1 renumbered (10.77.0.11 must not pass for 10.77.0.1): a new certificate
    expect(parseMemberCert(run(memberCertScript('n1', '10.77.0.11'))).issued).toBe(true);
    expect(new X509Certificate(file('pg/tls/member.crt')).subjectAltName).toBe('IP Address:10.77.0.11, IP Address:127.0.0.1');
    expect(parseMemberCert(run(memberCertScript('n1', '10.77.0.1'))).issued).toBe(true);
  });

  it('a client certificate for a workstation: key and certificate on stdout, nothing left behind', () => {
    const before = execFileSync('ls', ['-R', root], { encoding: 'utf8' });
    const c = parseClientCert(run(clientCertScript('vlx-app ws1')));
    expect(execFileSync('ls', ['-R', root], { encoding: 'utf8' })).toBe(before);
    const x = new X509Certificate(c.cert);
    expect(x.subject).toBe('CN=vlx-app ws1');
    expect(x.keyUsage).toEqual(['1.3.6.1.5.5.7.3.2']);
    expect(x.checkPrivateKey(createPrivateKey(c.key))).toBe(true);
    client = { ca, ...c };
  });

  describe('the app\'s HTTPS client against a server with the member certificate, asking for client certificates', () => {
    let server: Server;
    let port: number;
    beforeAll(async () => {
      server = createServer({ cert: file('pg/tls/member.crt'), key: file('pg/tls/member.key'), ca, requestCert: true, rejectUnauthorized: true },
        (_req, res) => res.end(JSON.stringify({ state: 'running' })));
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      port = (server.address() as { port: number }).port;
    });
    afterAll(() => new Promise<void>((r) => server.close(() => r())));

    it('with the cluster CA and its client certificate: answered', async () => {
      expect(await getJson('127.0.0.1', port, '/patroni', client, 2000)).toEqual({ state: 'running' });
    });

    it('trusting another CA: the server is refused, named as not the cluster CA\'s', async () => {
      const other = parseCa(run(makeCaScript('other').replace(/ca\.(crt|key)/g, 'other-ca.$1'))).pem;
      const err = await getJson('127.0.0.1', port, '/patroni', { ...client, ca: other }, 2000).catch((e: unknown) => e);
      expect(errorText(err)).toMatch(/^TLS: not a certificate of the cluster CA/);
    });

    it('a client certificate from another CA, or none: the server refuses the handshake', async () => {
      execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
        '-subj', '/CN=stranger', '-keyout', join(root, 's.key'), '-out', join(root, 's.crt')], { stdio: 'ignore' });
      const stranger = { ca, cert: file('s.crt'), key: file('s.key') };
      await expect(getJson('127.0.0.1', port, '/patroni', stranger, 2000)).rejects.toBeTruthy();
      await expect(getJson('127.0.0.1', port, '/patroni', { ...client, cert: '', key: '' }, 2000)).rejects.toBeTruthy();
    });

    it('no client certificate held at all: a clear error, no connection', async () => {
      await expect(getJson('127.0.0.1', port, '/patroni', undefined, 2000)).rejects.toThrow(/no certificate of the cluster CA: run `vlx db deploy/);
    });
  });
});

describe('member scripts speak TLS to etcd', () => {
  it('etcdctl goes to https://127.0.0.1:2379 with the member certificate', () => {
    expect(etcdctl('member', 'list')).toBe("ETCDCTL_API=3 etcdctl --endpoints=https://127.0.0.1:2379 --cacert=/var/lib/virtualinux/pg/tls/ca.crt "
      + '--cert=/var/lib/virtualinux/pg/tls/member.crt --key=/var/lib/virtualinux/pg/tls/member.key member list');
    expect(etcdGetScript('/vlx/x/initialize')).toMatch(/^ETCDCTL_API=3 etcdctl --endpoints=https:.* --command-timeout=3s get --print-value-only \/vlx\/x\/initialize$/);
  });

  it('stopping a daemon waits for it, or uses its unit under systemd', () => {
    expect(stopDaemonScript('patroni', true)).toBe('systemctl stop vlx-patroni');
    expect(stopDaemonScript('etcd', false)).toMatch(/kill "\$pid"; for i in \$\(seq 600\)/);
  });
});

