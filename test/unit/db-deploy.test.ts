import { describe, expect, it } from 'vitest';
import { LOGIN_ROLE, checkCidr, newLoginRole, roleSql } from '../../main/db/deploy.js';
import { haPgHba, renderEtcdConf, renderPatroniConf } from '../../main/db/haConfig.js';
import { scramVerifier } from '../../main/db/scram.js';

describe('deploy config rendering', () => {
  const members = [{ node: 'n1', address: '10.77.0.1' }, { node: 'n2', address: '10.77.0.2' }, { node: 'n3', address: '10.77.0.3' }];
  const secrets = { superuser: 'a'.repeat(32), replication: 'b'.repeat(32), rest: 'c'.repeat(32) };
  const conf = () => JSON.parse(renderPatroniConf({
    cluster: 'lab', self: members[1]!, members, port: 5433, binDir: '/usr/lib/postgresql/15/bin', secrets,
    allow: ['10.77.0.0/24'], tls: { cert: '/var/lib/virtualinux/pg/tls/server.crt', key: '/var/lib/virtualinux/pg/tls/server.key' },
  }, 'virtualinux', 'vlx'));

  it('Patroni: listens on the member address and localhost, socket node-private, TLS with the cluster certificate', () => {
    const c = conf();
    expect(c.name).toBe('n2');
    expect(c.scope).toBe('vlx-lab');
    expect(c.postgresql.listen).toBe('10.77.0.2,127.0.0.1:5433');
    expect(c.postgresql.connect_address).toBe('10.77.0.2:5433');
    expect(c.postgresql.parameters).toMatchObject({ unix_socket_directories: '/run/postgresql/vlx', ssl: 'on', password_encryption: 'scram-sha-256',
      ssl_cert_file: '/var/lib/virtualinux/pg/tls/server.crt', ssl_key_file: '/var/lib/virtualinux/pg/tls/server.key' });
    expect(c.etcd3.hosts).toEqual(['10.77.0.1:2379', '10.77.0.2:2379', '10.77.0.3:2379']);
  });

  it('Patroni: TTL 5 s with loop_wait + 2 × retry_timeout ≤ ttl, synchronous mode not strict, pg_rewind', () => {
    const dcs = conf().bootstrap.dcs;
    expect(dcs).toMatchObject({ ttl: 5, loop_wait: 1, retry_timeout: 2 });
    expect(conf().watchdog).toEqual({ mode: 'automatic', safety_margin: 2 });
    expect(dcs.loop_wait + 2 * dcs.retry_timeout).toBeLessThanOrEqual(dcs.ttl);
    expect(dcs.synchronous_mode).toBe(true);
    expect(dcs.synchronous_mode_strict).toBe(false);
    expect(dcs.postgresql.use_pg_rewind).toBe(true);
    expect(dcs.postgresql.parameters.wal_log_hints).toBe('on');
  });

  it('pg_hba: superuser by local peer, replication and rewind between members only, the app role from each allowed network once, all hostssl', () => {
    const rules = haPgHba(members, ['10.77.0.0/24', '192.168.1.5/32', '10.77.0.0/24'], 'virtualinux', 'vlx').map((l) => l.split(/\s+/));
    expect(rules).toEqual([
      ['local', 'all', 'all', 'peer'],
      ['hostssl', 'all', 'all', '127.0.0.1/32', 'scram-sha-256'],
      ['hostssl', 'replication', 'replicator', '127.0.0.1/32', 'scram-sha-256'],
      ...members.map((m) => ['hostssl', 'replication', 'replicator', `${m.address}/32`, 'scram-sha-256']),
      ...members.map((m) => ['hostssl', 'postgres', 'postgres', `${m.address}/32`, 'scram-sha-256']),
      ['hostssl', 'virtualinux', '+vlx', '10.77.0.0/24', 'scram-sha-256'],
      ['hostssl', 'virtualinux', '+vlx', '192.168.1.5/32', 'scram-sha-256'],
      ['hostssl', 'virtualinux', '+vlx_watchdog', '10.77.0.0/24', 'scram-sha-256'],
      ['hostssl', 'virtualinux', '+vlx_watchdog', '192.168.1.5/32', 'scram-sha-256'],
    ]);
    expect(rules.every((r) => r[0] === 'local' || r[0] === 'hostssl')).toBe(true);
  });

  it('etcd: every member in the initial cluster, at most five', () => {
    const six = Array.from({ length: 6 }, (_, i) => ({ node: `n${i + 1}`, address: `10.77.0.${i + 1}` }));
    const c = JSON.parse(renderEtcdConf({ cluster: 'lab', self: six[0]!, members: six, state: 'new' }));
    expect(c['initial-cluster'].split(',')).toHaveLength(5);
    expect(c['listen-client-urls']).toBe('https://10.77.0.1:2379,https://127.0.0.1:2379');
    expect(c['initial-cluster-state']).toBe('new');
  });

  it('etcd: clients and peers over TLS only, each asked for a certificate of the cluster CA', () => {
    const c = JSON.parse(renderEtcdConf({ cluster: 'lab', self: members[0]!, members, state: 'new' }));
    const urls = [c['listen-client-urls'], c['advertise-client-urls'], c['listen-peer-urls'], c['initial-advertise-peer-urls'], c['initial-cluster']].join(',');
    expect(urls).not.toMatch(/http:/);
    expect(c['initial-cluster']).toBe('n1=https://10.77.0.1:2380,n2=https://10.77.0.2:2380,n3=https://10.77.0.3:2380');
    for (const k of ['client-transport-security', 'peer-transport-security']) {
      expect(c[k]).toEqual({ 'cert-file': '/var/lib/virtualinux/etcd/tls/member.crt', 'key-file': '/var/lib/virtualinux/etcd/tls/member.key',
        'trusted-ca-file': '/var/lib/virtualinux/etcd/tls/ca.crt', 'client-cert-auth': true });
    }
    expect(c['data-dir']).toBe('/var/lib/virtualinux/etcd/data-tls');
  });

  it('etcd: LAN Raft timing (50 ms heartbeat, 500 ms election) with pre-vote, the same on every member', () => {
    const cs = members.map((self) => JSON.parse(renderEtcdConf({ cluster: 'lab', self, members, state: 'existing' })));
    for (const c of cs) expect(c).toMatchObject({ 'heartbeat-interval': 50, 'election-timeout': 500, 'pre-vote': true });
  });

  it('Patroni: REST over HTTPS asking a client certificate, etcd3 over HTTPS with the member certificate', () => {
    const c = conf();
    expect(c.restapi).toMatchObject({ listen: '10.77.0.2:8008', certfile: '/var/lib/virtualinux/pg/tls/member.crt', keyfile: '/var/lib/virtualinux/pg/tls/member.key',
      cafile: '/var/lib/virtualinux/pg/tls/ca.crt', verify_client: 'required' });
    expect(c.etcd3).toEqual({ hosts: ['10.77.0.1:2379', '10.77.0.2:2379', '10.77.0.3:2379'], protocol: 'https',
      cacert: '/var/lib/virtualinux/pg/tls/ca.crt', cert: '/var/lib/virtualinux/pg/tls/member.crt', key: '/var/lib/virtualinux/pg/tls/member.key' });
  });

  it.each([
    ['10.77.0.0/24', true],
    ['0.0.0.0/0', true],
    ['192.168.1.5/32', true],
    ['10.77.0.0/33', false],
    ['10.77.0.256/24', false],
    ['10.77.0.0', false],
    ['10.77.0.0/24 trust', false],
    ["10.0.0.0/8'; drop", false],
    ['', false],
  ])('checkCidr(%j) accepts: %s', (value, good) => {
    if (good) expect(checkCidr(value, 'allow')).toBe(value);
    else expect(() => checkCidr(value, 'allow')).toThrow(/^allow: must be an IPv4 network/);
  });
});

describe('scramVerifier', () => {
  it('has the shape PostgreSQL stores, and depends on password and salt', () => {
    const salt = Buffer.alloc(16, 7);
    const v = scramVerifier('secret-pw', salt);
    expect(v).toMatch(/^SCRAM-SHA-256\$4096:[A-Za-z0-9+/=]{24}\$[A-Za-z0-9+/=]{44}:[A-Za-z0-9+/=]{44}$/);
    expect(v.split('$')[1]).toBe(`4096:${salt.toString('base64')}`);
    expect(scramVerifier('secret-pw', salt)).toBe(v);
    expect(scramVerifier('secret-px', salt)).not.toBe(v);
    expect(scramVerifier('secret-pw', Buffer.alloc(16, 8))).not.toBe(v);
    expect(v).not.toContain('secret-pw');
  });

  // Non-ASCII would need SASLprep, which we do not implement; the app's own passwords are base64url.
  it.each(['', 'with space', 'naïve', 'line\nbreak'])('refuses a password SASLprep could change: %j', (pw) => {
    expect(() => scramVerifier(pw)).toThrow('printable ASCII');
  });
});

describe('roleSql', () => {
  const verifier = scramVerifier('pw', Buffer.alloc(16, 1));
  it('creates the owner and the login role, grants, sets the password by verifier only', () => {
    const sql = roleSql('vlx_0123abcd', verifier);
    expect(sql).toContain(`alter role vlx_0123abcd login password '${verifier}';`);
    expect(sql).toContain('grant vlx to vlx_0123abcd;');
    expect(sql).toContain("alter role vlx_0123abcd set role = 'vlx';");
    expect(sql).toContain('\\gexec');
  });
  it.each(['vlx', 'vlx_0123abc', 'vlx_0123ABCD', "vlx_0123abcd'; drop", 'postgres'])('refuses the login name %j', (user) => {
    expect(() => roleSql(user, verifier)).toThrow('db user: must match');
  });
  it('refuses anything but a verifier as the password', () => {
    expect(() => roleSql('vlx_0123abcd', "x'; alter role postgres password 'y")).toThrow('not a SCRAM verifier');
  });
  it('new login names are fresh and valid', () => {
    const names = new Set(Array.from({ length: 50 }, newLoginRole));
    expect(names.size).toBe(50);
    for (const n of names) expect(n).toMatch(LOGIN_ROLE);
  });
});
