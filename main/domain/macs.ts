import { MAX_INSTALL_NODES, normaliseMac } from './installConfig.js';
import { NAME_RULES } from '../util/names.js';

/**
 * The three ways of gathering the nodes' MAC addresses: from a CSV file, typed or pasted by
 * hand, and watched on the boot network (the DHCP server's log, as machines power on).
 * Pure: the service reads the file or the log, these decide what it says.
 */
export interface MacEntry { ordinal: number; mac: string; hostname?: string }
/** `line` 0: about the file as a whole (a missing ordinal). */
export interface LineError { line: number; rule: string }

export const formatLineError = (file: string, e: LineError) => (e.line > 0 ? `${file}:${e.line}: ${e.rule}` : `${file}: ${e.rule}`);

/**
 * `ordinal,mac[,hostname]` per line; blank lines, `#` comments and a header line are
 * skipped. Every bad line is reported (not just the first), each with its number.
 */
export function parseMacCsv(text: string): { entries: MacEntry[]; errors: LineError[] } {
  const entries: MacEntry[] = [];
  const errors: LineError[] = [];
  const byOrdinal = new Map<number, number>();
  const byMac = new Map<string, number>();
  const byName = new Map<string, number>();
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = i + 1;
    const s = raw.trim();
    if (!s || s.startsWith('#')) return;
    const f = s.split(',').map((x) => x.trim());
    if (line === 1 && /^ordinal$/i.test(f[0] ?? '')) return;
    const bad = (rule: string) => errors.push({ line, rule });
    if (f.length < 2 || f.length > 3) return bad(`must be "ordinal,mac" or "ordinal,mac,hostname" (${f.length} field${f.length === 1 ? '' : 's'} found)`);
    const [ord, macText, hostname] = f as [string, string, string | undefined];
    if (!/^\d{1,3}$/.test(ord) || Number(ord) < 1 || Number(ord) > MAX_INSTALL_NODES) return bad(`ordinal must be a whole number from 1 to ${MAX_INSTALL_NODES} (got ${JSON.stringify(ord)})`);
    const ordinal = Number(ord);
    const mac = normaliseMac(macText);
    if (!mac) return bad(`mac must be a MAC address like 52:54:4d:00:01:01 (got ${JSON.stringify(macText)})`);
    if (hostname !== undefined && hostname !== '' && !NAME_RULES.node.re.test(hostname)) return bad(`hostname ${NAME_RULES.node.rule} (got ${JSON.stringify(hostname)})`);
    if (byOrdinal.has(ordinal)) return bad(`ordinal ${ordinal} is already on line ${byOrdinal.get(ordinal)}`);
    if (byMac.has(mac)) return bad(`mac ${mac} is already on line ${byMac.get(mac)}`);
    if (hostname && byName.has(hostname)) return bad(`hostname ${hostname} is already on line ${byName.get(hostname)}`);
    byOrdinal.set(ordinal, line);
    byMac.set(mac, line);
    if (hostname) byName.set(hostname, line);
    entries.push({ ordinal, mac, ...(hostname ? { hostname } : {}) });
  });
  entries.sort((a, b) => a.ordinal - b.ordinal);
  if (errors.length === 0) {
    const missing = entries.findIndex((e, i) => e.ordinal !== i + 1);
    if (missing >= 0) errors.push({ line: 0, rule: `ordinal ${missing + 1} is missing: ordinals must run from 1 without gaps` });
  }
  return { entries, errors };
}

/**
 * MACs typed or pasted: separated by spaces, commas, semicolons or new lines, in any usual
 * spelling. A duplicate (of another typed one or of one already gathered) is refused.
 */
export function parseManualMacs(text: string, already: readonly string[] = []): { macs: string[]; errors: { index: number; text: string; rule: string }[] } {
  const macs: string[] = [];
  const errors: { index: number; text: string; rule: string }[] = [];
  const have = new Set(already.map((m) => normaliseMac(m) ?? m));
  text.split(/[\s,;]+/).filter(Boolean).forEach((t, i) => {
    const mac = normaliseMac(t);
    if (!mac) errors.push({ index: i + 1, text: t, rule: 'must be a MAC address like 52:54:4d:00:01:01' });
    else if (have.has(mac)) errors.push({ index: i + 1, text: t, rule: `${mac} is already listed` });
    else { have.add(mac); macs.push(mac); }
  });
  return { macs, errors };
}

const DISCOVER = /\bDHCPDISCOVER\(([^)\s]*)\)\s+(?:(?:\d{1,3}\.){3}\d{1,3}\s+)?([0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){5})\b/;

/** One DHCPDISCOVER seen in dnsmasq's log: a machine on the boot network asking for an address. */
export interface DhcpSighting { mac: string; iface: string }

export function parseDhcpLog(text: string): DhcpSighting[] {
  const out: DhcpSighting[] = [];
  for (const line of text.split('\n')) {
    const m = DISCOVER.exec(line);
    if (m) out.push({ mac: m[2]!.toLowerCase(), iface: m[1]! });
  }
  return out;
}

/** Each MAC once, in the order first seen, leaving out those already known (gathered, or the cluster's own). */
export function newMacs(sightings: readonly DhcpSighting[], known: readonly string[]): string[] {
  const seen = new Set(known.map((m) => normaliseMac(m) ?? m));
  const out: string[] = [];
  for (const s of sightings) {
    if (seen.has(s.mac)) continue;
    seen.add(s.mac);
    out.push(s.mac);
  }
  return out;
}

/**
 * Reading the log from a byte cursor: only whole lines count, so the next cursor stops after
 * the last newline read. A log shorter than the cursor was rotated or truncated: read it anew.
 */
export function advanceLog(cursor: number, size: number, chunk: string): { text: string; cursor: number; restarted: boolean } {
  const restarted = size < cursor;
  const lastNl = chunk.lastIndexOf('\n');
  const text = lastNl < 0 ? '' : chunk.slice(0, lastNl + 1);
  return { text, cursor: (restarted ? 0 : cursor) + new TextEncoder().encode(text).length, restarted };
}
