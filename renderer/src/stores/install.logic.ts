/**
 * The Install wizard's form as text fields and back. Only the shape of the config lives here
 * (which field is a number, a list, an optional group): its defaults and rules are the
 * service's (install.validate answers the config with every default filled in, and each
 * error with the path of the field it names). Pure, so it is unit-tested.
 */

export type FieldKind = 'text' | 'int' | 'list' | 'lines';

export interface InstallField {
  /** the config path, as the service's errors name it: `network.boot.firstIp` */
  path: string;
  label: string;
  kind: FieldKind;
  /** what the service derives when it is left empty (a key of install.validate's `derived`) */
  derived?: 'storageIp' | 'spare' | 'primary' | 'backup';
  hint?: string;
}

export interface InstallSection { title: string; fields: InstallField[] }

export const INSTALL_SECTIONS: InstallSection[] = [
  { title: 'Installation', fields: [
    { path: 'container', label: 'Container name', kind: 'text', hint: 'this installation\'s name on shared storage' },
    { path: 'baseImage', label: 'Base image', kind: 'text', hint: 'the image the original is copied from' },
    { path: 'sharedRoot', label: 'Shared storage', kind: 'text', hint: 'mounted at this path on every node' },
    { path: 'hostnamePrefix', label: 'Host name prefix', kind: 'text', hint: 'nodes are PREFIX1…PREFIXn' },
    { path: 'nodeCount', label: 'Number of nodes', kind: 'int', hint: 'empty: as many as the MACs listed' },
  ] },
  { title: 'Volumes per node', fields: [
    { path: 'sizes.rootMb', label: 'Root, MB', kind: 'int', hint: 'an overlay of the original' },
    { path: 'sizes.swapMb', label: 'Swap, MB', kind: 'int' },
    { path: 'sizes.sharedMb', label: 'Shared volume, MB', kind: 'int', hint: 'one volume for all nodes' },
  ] },
  { title: 'Boot and storage networks', fields: [
    { path: 'network.boot.firstIp', label: 'Boot network: first node IP', kind: 'text', hint: 'node N gets this plus N-1' },
    { path: 'network.boot.netmask', label: 'Boot network: netmask', kind: 'text' },
    { path: 'network.storage.firstIp', label: 'Storage network: first node IP', kind: 'text', hint: 'empty: storage on the boot network' },
    { path: 'network.storage.netmask', label: 'Storage network: netmask', kind: 'text' },
    { path: 'network.storageIp', label: 'Storage address (serves every root)', kind: 'text', derived: 'storageIp' },
    { path: 'network.interface', label: 'Boot interface', kind: 'text', hint: 'empty: the one the node booted from' },
    { path: 'network.modules', label: 'Initrd modules', kind: 'list', hint: 'comma-separated, e.g. e1000' },
  ] },
  { title: 'Gateway', fields: [
    { path: 'gateway.primary', label: 'Primary gateway node', kind: 'text', derived: 'primary' },
    { path: 'gateway.backup', label: 'Backup gateway node', kind: 'text', derived: 'backup' },
    { path: 'gateway.spare', label: 'Spare IP (moves between them)', kind: 'text', derived: 'spare' },
    { path: 'gateway.public.ip', label: 'Public IP', kind: 'text', hint: 'empty: no public network' },
    { path: 'gateway.public.netmask', label: 'Public netmask', kind: 'text' },
    { path: 'gateway.public.router', label: 'Router', kind: 'text' },
    { path: 'gateway.dns', label: 'DNS servers', kind: 'list', hint: 'comma-separated' },
    { path: 'gateway.domain', label: 'Domain', kind: 'text' },
  ] },
  { title: 'Access', fields: [
    { path: 'sshKeys', label: 'SSH public keys', kind: 'lines', hint: 'one per line; nodes have no root password' },
  ] },
];

export const INSTALL_FIELDS: InstallField[] = INSTALL_SECTIONS.flatMap((s) => s.fields);

export type FieldTexts = Record<string, string>;
export interface NodeRow { mac: string; hostname: string }

function get(o: unknown, path: string): unknown {
  return path.split('.').reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), o);
}

function set(o: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let at = o;
  for (const k of keys.slice(0, -1)) at = (at[k] ??= {}) as Record<string, unknown>;
  at[keys[keys.length - 1]!] = value;
}

/** A config object (the example, or what the service answered) as the form's texts and node rows. */
export function formFromConfig(config: Record<string, unknown>): { fields: FieldTexts; nodes: NodeRow[] } {
  const fields: FieldTexts = {};
  for (const f of INSTALL_FIELDS) {
    const v = get(config, f.path);
    fields[f.path] = v === undefined || v === null ? ''
      : Array.isArray(v) ? v.map(String).join(f.kind === 'lines' ? '\n' : ', ')
      : String(v);
  }
  const list = Array.isArray(config.nodes) ? config.nodes as { mac?: unknown; hostname?: unknown }[] : [];
  const nodes = list.map((n) => ({ mac: typeof n.mac === 'string' ? n.mac : '', hostname: typeof n.hostname === 'string' ? n.hostname : '' }));
  return { fields, nodes };
}

/**
 * The form as the config object the service checks. Numbers that are not numbers stay text,
 * so the service's rule names them; an empty field is left out (its default applies).
 */
export function configFromForm(fields: FieldTexts, nodes: readonly NodeRow[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const f of INSTALL_FIELDS) {
    const text = (fields[f.path] ?? '').trim();
    if (f.kind === 'list' || f.kind === 'lines') {
      const items = text.split(f.kind === 'lines' ? /\n/ : /[,\s]+/).map((s) => s.trim()).filter(Boolean);
      // An empty key list is the service's error to name; an empty optional list is its default.
      if (items.length > 0 || f.path === 'sshKeys') set(out, f.path, items);
      continue;
    }
    if (text === '') continue;
    set(out, f.path, f.kind === 'int' && /^-?\d+$/.test(text) ? Number(text) : text);
  }
  out.nodes = nodes.map((n) => ({ mac: n.mac.trim(), ...(n.hostname.trim() ? { hostname: n.hostname.trim() } : {}) }));
  return out;
}

export interface FieldError { path: string; rule: string }

/**
 * Each error next to the field it names: the field of that path, else the first field of the
 * group it names (`network.storage` → its first IP), else a node row (`nodes.2.mac`) or the
 * node list. What names no field is shown apart.
 */
export function placeErrors(errors: readonly FieldError[]): { byField: Record<string, string>; byNode: Record<number, { mac?: string; hostname?: string; row?: string }>; nodeList: string[]; general: FieldError[] } {
  const byField: Record<string, string> = {};
  /** about the list as a whole (`nodes`: none listed, not nodeCount of them) */
  const nodeList: string[] = [];
  const byNode: Record<number, { mac?: string; hostname?: string; row?: string }> = {};
  const general: FieldError[] = [];
  for (const e of errors) {
    if (e.path === 'nodes') { nodeList.push(e.rule); continue; }
    const node = /^nodes\.(\d+)(?:\.(mac|hostname))?/.exec(e.path);
    if (node) {
      const i = Number(node[1]);
      const slot = (node[2] ?? 'row') as 'mac' | 'hostname' | 'row';
      const row = (byNode[i] ??= {});
      row[slot] ??= e.rule;
      continue;
    }
    const exact = INSTALL_FIELDS.find((f) => f.path === e.path)
      // a list item (`sshKeys.1`, `gateway.dns.0`): the list's field
      ?? INSTALL_FIELDS.find((f) => e.path.startsWith(`${f.path}.`))
      // a group (`network.storage`, `gateway.public`): its first field
      ?? INSTALL_FIELDS.find((f) => f.path.startsWith(`${e.path}.`));
    if (exact) {
      const item = e.path !== exact.path && e.path.startsWith(`${exact.path}.`) ? e.path.slice(exact.path.length + 1) : '';
      byField[exact.path] ??= /^\d+$/.test(item) ? `item ${Number(item) + 1}: ${e.rule}` : e.rule;
    } else general.push(e);
  }
  return { byField, byNode, nodeList, general };
}

/**
 * MACs gathered by any of the three ways, put into the node list: a CSV gives the whole list
 * (its ordinals are the order), typed and watched ones are added after the ones there.
 */
export function withMacs(nodes: readonly NodeRow[], entries: readonly { ordinal: number; mac: string; hostname?: string }[], replace: boolean): NodeRow[] {
  const added = entries.map((e) => ({ mac: e.mac, hostname: e.hostname ?? '' }));
  return replace ? added : [...nodes, ...added];
}

/** The MACs the list holds, for `known` (the service leaves them out of what it finds). */
export const knownMacs = (nodes: readonly NodeRow[]) => nodes.map((n) => n.mac.trim()).filter(Boolean);
