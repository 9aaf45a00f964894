/**
 * A throwaway, real PostgreSQL 15 for tests: its own data dir in /tmp (owned by the postgres
 * user: root cannot run the server), listening on 127.0.0.1 on a free port, with the same
 * role and database the deploy creates (`vlx`, owner of `virtualinux`, not a superuser), so
 * migrations are tested with the privileges they get on a cluster. Like a deployed one it
 * speaks TLS with a self-signed certificate, which its endpoint pins (the app connects no other way).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { execa } from 'execa';
import type { DbEndpoint } from '../../main/config/clusters.js';

const PG_BIN = '/usr/lib/postgresql/15/bin';

export interface LocalPg {
  endpoint: DbEndpoint;
  /** A new empty database owned by `vlx`, for a test that needs a fresh schema. */
  freshDatabase(name?: string): Promise<DbEndpoint>;
  /** Run SQL as the superuser over the unix socket (for checks the app role may not make). */
  superSql(sql: string, database?: string): Promise<string>;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

function asPostgres(argv: string[], input?: string) {
  return execa('runuser', ['-u', 'postgres', '--', ...argv], { input, stdin: input === undefined ? 'ignore' : 'pipe' });
}

let counter = 0;

export async function startLocalPg(): Promise<LocalPg> {
  const dir = mkdtempSync('/tmp/vlx-test-pg-');
  await execa('chown', ['postgres:postgres', dir]);
  const data = join(dir, 'data');
  const port = await freePort();
  const password = randomBytes(18).toString('base64url');
  let started = false;
  const stop = async (): Promise<void> => {
    if (started) await asPostgres([`${PG_BIN}/pg_ctl`, '-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    // The superuser gets a random password nobody keeps: it is reachable only by peer auth on the socket.
    await asPostgres(['sh', '-c', 'cat | exec "$0" -D "$1" --auth-host=scram-sha-256 --auth-local=peer -U postgres --pwfile=/dev/stdin -E UTF8 --no-locale',
      `${PG_BIN}/initdb`, data], randomBytes(18).toString('base64url'));
    const [cert, key] = [join(dir, 'server.crt'), join(dir, 'server.key')];
    await asPostgres(['openssl', 'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '3650',
      '-subj', '/CN=vlx test db', '-keyout', key, '-out', cert]);
    await asPostgres(['chmod', '0600', key]);
    const opts = `-c listen_addresses=127.0.0.1 -c port=${port} -c unix_socket_directories=${dir} -c fsync=off -c max_connections=60`
      + ` -c ssl=on -c ssl_cert_file=${cert} -c ssl_key_file=${key}`;
    await asPostgres([`${PG_BIN}/pg_ctl`, '-D', data, '-l', join(dir, 'log'), '-o', opts, '-w', '-t', '60', 'start']);
    started = true;
    const superSql = async (sql: string, database = 'postgres'): Promise<string> =>
      (await asPostgres([`${PG_BIN}/psql`, '-h', dir, '-p', String(port), '-U', 'postgres', '-d', database, '-v', 'ON_ERROR_STOP=1', '-Atq', '-f', '-'], sql)).stdout;
    // The password reaches psql on stdin, never on a command line.
    await superSql(`create role vlx login password '${password}'; create database virtualinux owner vlx;`);
    const endpoint: DbEndpoint = { node: 'local', host: '127.0.0.1', port, database: 'virtualinux', user: 'vlx', password, tlsCert: readFileSync(cert, 'utf8') };
    return {
      endpoint,
      superSql,
      async freshDatabase(name) {
        const db = name ?? `t${process.pid}_${++counter}`;
        if (!/^[a-z][a-z0-9_]*$/.test(db)) throw new Error(`bad database name ${db}`);
        await superSql(`create database ${db} owner vlx;`);
        return { ...endpoint, database: db };
      },
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
