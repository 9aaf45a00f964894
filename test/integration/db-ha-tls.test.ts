// etcd (client and peer ports) and Patroni's REST API on the database members speak TLS only
// and answer only a client holding a certificate of the cluster CA; the app trusts that CA
// alone for them (pinned at deploy) and `vlx db status` reads both through it.
import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getCluster } from '../../main/config/clusters.js';
import { errorText, etcdHealth, getJson, memberStatuses, type HaClientTls } from '../../main/db/haStatus.js';

const ETCD = 2379;
const PEER = 2380;
const PATRONI = 8008;
let dir: string;
let stranger: HaClientTls;

const db = () => getCluster('lab').db!;
const members = () => db().members!.map((m) => ({ node: m.node, address: m.host }));

/** A plain-HTTP GET: the answer's status and body, or the error that ended it. */
function plainGet(host: string, port: number, path: string): Promise<{ status?: number; body?: string; error?: string }> {
  return new Promise((resolve) => {
    const req = request({ host, port, path, agent: false, timeout: 3000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => { body += c.toString(); });
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.on('timeout', () => req.destroy(new Error('no answer')));
    req.on('error', (e: NodeJS.ErrnoException) => resolve({ error: e.code ?? e.message }));
    req.end();
  });
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'vlx-hatls-'));
  // A certificate that is well-formed and valid, but no CA of the cluster's signed it.
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
    '-subj', '/CN=vlx-app stranger', '-keyout', join(dir, 'k'), '-out', join(dir, 'c')], { stdio: 'ignore' });
  const cert = readFileSync(join(dir, 'c'), 'utf8');
  stranger = { ca: db().haTls!.ca, cert, key: readFileSync(join(dir, 'k'), 'utf8') };
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('TLS to etcd and Patroni on every member', () => {
  it('the workstation holds the cluster CA and a client certificate of it', () => {
    const t = db().haTls;
    expect(t?.ca).toMatch(/^-----BEGIN CERTIFICATE-----/);
    expect(t?.key).toMatch(/^-----BEGIN PRIVATE KEY-----/);
  });

  it('plain HTTP gets nothing from etcd (clients, peers) or Patroni', async () => {
    for (const m of members()) {
      for (const [port, path] of [[ETCD, '/version'], [PEER, '/members'], [PATRONI, '/patroni']] as const) {
        const r = await plainGet(m.address, port, path);
        // Go's TLS servers answer a plain request with 400 and a sentence; Python's just close.
        const refused = r.error !== undefined || (r.status === 400 && /HTTP request to an HTTPS server/.test(r.body ?? ''));
        expect(refused, `${m.node}:${port} ${JSON.stringify(r)}`).toBe(true);
        expect(r.body ?? '').not.toMatch(/etcdserver|"role"|"name"/);
      }
    }
  });

  it('HTTPS with a client certificate the cluster CA did not sign, or none, is refused', async () => {
    for (const m of members()) {
      for (const [port, path, body] of [[ETCD, '/v3/maintenance/status', {}], [PATRONI, '/patroni', undefined]] as const) {
        await expect(getJson(m.address, port, path, stranger, 3000, body), `${m.node}:${port} stranger`).rejects.toBeTruthy();
        await expect(getJson(m.address, port, path, { ...db().haTls!, cert: '', key: '' }, 3000, body), `${m.node}:${port} no cert`).rejects.toBeTruthy();
      }
    }
  });

  it('a member is trusted only through the pinned CA: another CA makes it a refused server', async () => {
    const other = { ...db().haTls!, ca: stranger.cert };
    const rows = await memberStatuses(members(), other, 3000);
    expect(rows.map((r) => r.role)).toEqual(rows.map(() => 'unreachable'));
    for (const r of rows) expect(r.state).toMatch(/^TLS: not a certificate of the cluster CA/);
    const err = await getJson(members()[0]!.address, ETCD, '/v3/maintenance/status', other, 3000, {}).catch((e: unknown) => e);
    expect(errorText(err)).toMatch(/^TLS: not a certificate of the cluster CA/);
  });

  it('with the pinned CA and its client certificate: a primary, a synchronous standby, etcd quorum', async () => {
    const rows = await memberStatuses(members(), db().haTls, 3000);
    expect(rows.filter((r) => r.role === 'primary')).toHaveLength(1);
    expect(rows.some((r) => r.role === 'sync_standby')).toBe(true);
    const etcd = await etcdHealth(members(), db().haTls, 3000);
    expect(etcd.quorum).toBe(true);
    expect(etcd.members.every((m) => m.healthy)).toBe(true);
  });

  it('`vlx db status --json` shows every member and etcd through TLS', async () => {
    const { stdout } = await promisify(execFile)('bin/vlx', ['db', 'status', '--json']);
    const s = JSON.parse(stdout) as { reachable: boolean; tls: boolean; primary?: string; members: { node: string; role: string }[]; etcd: { quorum: boolean } };
    expect(s.reachable).toBe(true);
    expect(s.tls).toBe(true);
    expect(s.members.map((m) => m.node)).toEqual(members().map((m) => m.node));
    expect(s.members.every((m) => m.role !== 'unreachable')).toBe(true);
    expect(s.primary).toBeDefined();
    expect(s.etcd.quorum).toBe(true);
  });
});
