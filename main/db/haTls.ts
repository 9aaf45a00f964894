import { hostname } from 'node:os';
import { X509Certificate } from 'node:crypto';
import type { NodeConn } from '../ssh/types.js';
import { sh } from '../util/quote.js';
import { HA_TLS, type HaMember } from './haConfig.js';
import type { HaClientTls } from './haStatus.js';
import { clientCertScript, makeCaScript, memberCertScript, parseCa, parseClientCert, parseMemberCert } from './haTlsScripts.js';
import { writeIfChangedScript } from './haScripts.js';

/**
 * The cluster CA behind etcd's and Patroni's TLS: made once on a member, copied to the others
 * over SSH (like the database's own certificate), and pinned by each workstation as the only
 * CA it trusts for them. Every member then has its own certificate from it; each workstation
 * gets a client certificate of its own.
 */

export interface CaHolder {
  conn: NodeConn;
  /** The CA certificate this member holds (with its key), if any. */
  haCa?: string;
}

export interface HaCerts {
  ca: string;
  /** Members whose certificate (or etcd's copy of it) changed: a running etcd/Patroni must read it again. */
  etcdChanged: Set<string>;
  issued: Set<string>;
  client: HaClientTls;
}

/** Is this client certificate one the CA signed, for this workstation to keep? */
function signedBy(cert: string, ca: string): boolean {
  try {
    return new X509Certificate(cert).verify(new X509Certificate(ca).publicKey);
  } catch {
    return false;
  }
}

export async function ensureHaCerts(o: {
  cluster: string;
  probes: CaHolder[];
  members: readonly HaMember[];
  pinned?: HaClientTls;
  report: (note: string) => void;
}): Promise<HaCerts> {
  const { probes } = o;
  const source = probes.find((p) => p.haCa && p.haCa === o.pinned?.ca) ?? probes.find((p) => p.haCa);
  const from = source?.conn ?? probes[0]!.conn;
  const made = parseCa(await from.run(makeCaScript(o.cluster)));
  if (made.made) o.report(`cluster CA for etcd and Patroni made on ${from.name}`);
  const ca = made.pem;
  const others = probes.filter((p) => p.conn !== from && p.haCa !== ca);
  if (others.length > 0) {
    // The CA key passes through this process's memory only, between two host-key-checked links.
    const key = await from.run(sh('cat', HA_TLS.caKey));
    for (const p of others) {
      await p.conn.run(sh('install', '-d', '-o', 'postgres', '-g', 'postgres', '-m', '0700', HA_TLS.ca.slice(0, HA_TLS.ca.lastIndexOf('/'))));
      await p.conn.run(writeIfChangedScript(HA_TLS.caKey, 'root:root'), { stdin: key });
      await p.conn.run(writeIfChangedScript(HA_TLS.ca, 'root:root'), { stdin: ca });
      await p.conn.run(sh('chmod', '0644', HA_TLS.ca));
      p.haCa = ca;
    }
    o.report(`cluster CA copied to ${others.map((p) => p.conn.name).join(', ')}`);
  }
  const etcdChanged = new Set<string>();
  const issued = new Set<string>();
  await Promise.all(probes.map(async (p) => {
    const self = o.members.find((m) => m.node === p.conn.name)!;
    const r = parseMemberCert(await p.conn.run(memberCertScript(self.node, self.address)));
    if (r.issued) issued.add(self.node);
    if (r.etcdChanged) etcdChanged.add(self.node);
  }));
  if (issued.size) o.report(`member certificates issued on ${[...issued].sort().join(', ')}`);
  const keep = o.pinned && o.pinned.ca === ca && signedBy(o.pinned.cert, ca) ? o.pinned : undefined;
  let client = keep;
  if (!client) {
    const c = parseClientCert(await from.run(clientCertScript(`vlx-app ${hostname().replace(/[^A-Za-z0-9._-]/g, '_').slice(0, 40)}`)));
    client = { ca, cert: c.cert, key: c.key };
    o.report('client certificate issued for this workstation');
  }
  return { ca, etcdChanged, issued, client };
}
