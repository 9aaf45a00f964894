import { describe, expect, it } from 'vitest';
import { LOGIN_ROLE, checkCidr, newLoginRole, renderPgConf, renderPgHba, roleSql } from '../../main/db/deploy.js';
import { scramVerifier } from '../../main/db/scram.js';

describe('deploy config rendering', () => {
  it('postgresql.conf listens on the node address and localhost, on the port, socket node-private', () => {
    const conf = renderPgConf({ address: '10.77.0.2', port: 5433 });
    expect(conf).toContain("listen_addresses = '10.77.0.2,localhost'\n");
    expect(conf).toContain('port = 5433\n');
    expect(conf).toContain("unix_socket_directories = '/run/postgresql/vlx'\n");
    expect(conf).toContain('password_encryption = scram-sha-256\n');
  });

  it('postgresql.conf turns TLS on with the node-made certificate and key', () => {
    const conf = renderPgConf({ address: '10.77.0.2', port: 5432 });
    expect(conf).toContain('ssl = on\n');
    expect(conf).toContain("ssl_cert_file = '/var/lib/virtualinux/pg/tls/server.crt'\n");
    expect(conf).toContain("ssl_key_file = '/var/lib/virtualinux/pg/tls/server.key'\n");
  });

  it('pg_hba: superuser by local peer only, the app role by SCRAM over TLS from each allowed network once', () => {
    const hba = renderPgHba(['10.77.0.0/24', '192.168.1.5/32', '10.77.0.0/24']);
    const rules = hba.split('\n').filter((l) => l && !l.startsWith('#')).map((l) => l.split(/\s+/));
    expect(rules).toEqual([
      ['local', 'all', 'all', 'peer'],
      ['hostssl', 'all', 'all', '127.0.0.1/32', 'scram-sha-256'],
      ['hostssl', 'virtualinux', '+vlx', '10.77.0.0/24', 'scram-sha-256'],
      ['hostssl', 'virtualinux', '+vlx', '192.168.1.5/32', 'scram-sha-256'],
    ]);
    // no plain-TCP line at all: only the local socket and hostssl
    expect(rules.every((r) => r[0] === 'local' || r[0] === 'hostssl')).toBe(true);
    expect(hba).not.toMatch(/trust|md5|password\b/);
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
