import { VlxError } from '../errors.js';

/**
 * The disk-less boot command line (the report's boot parameters and their grammar): other
 * kernel arguments first, then `name=value` parameters separated by spaces, then `---`.
 * When a parameter appears twice the first occurrence wins. Pure: the install prints one
 * line per node into its network-boot entry; the node's initrd parses the same words.
 *
 * Our mapping onto the network root (NBD):
 * - storage_ip   the floating storage address: held by one live node at a time, serves every root
 * - storage_port the NBD port on it
 * - ivid         the NBD export name: one per node, that node's root overlay
 * - root         the device the root appears as (/dev/nbd0)
 * - sif/sifip/sifnm/sifm  the interface that reaches storage, its address, netmask and modules
 */

export const BOOT_PARAMS = ['storage_ip', 'storage_port', 'sif', 'sifip', 'sifnm', 'sifm', 'ivid', 'root'] as const;
export type BootParamName = (typeof BOOT_PARAMS)[number];
/** The initrd cannot find its root without these; the interface ones fall back to DHCP's. */
export const REQUIRED_PARAMS: readonly BootParamName[] = ['storage_ip', 'storage_port', 'ivid', 'root'];
export const END_MARK = '---';

export const NBD_PORT = 10809;
export const NBD_ROOT_DEVICE = '/dev/nbd0';

export interface BootParams {
  storage_ip: string;
  storage_port: number;
  sif?: string;
  sifip?: string;
  sifnm?: string;
  /** Kernel modules that bring up `sif`, in load order (a comma list on the line). */
  sifm?: string[];
  ivid: string;
  root: string;
}

export interface BootLine {
  /** Words before the first parameter (console=…, quiet, …), kept in order. */
  kernelArgs: string[];
  params: BootParams;
}

export class BootLineError extends VlxError {
  constructor(readonly word: number, readonly offset: number, rule: string) {
    super('invalid-input', `boot line, word ${word} (character ${offset + 1}): ${rule}`);
  }
}

const OCTET = '(25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const IPV4 = new RegExp(`^${OCTET}(\\.${OCTET}){3}$`);
const IFACE = /^[A-Za-z][A-Za-z0-9_.:-]{0,14}$/;
const MODULE = /^[A-Za-z0-9_-]{1,56}$/;
const EXPORT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const DEVICE = /^\/dev\/[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/;
/** A kernel argument we keep: printable ASCII without spaces, never a parameter name or the end mark. */
const KERNEL_ARG = /^[!-~]+$/;

function isNetmask(s: string): boolean {
  if (!IPV4.test(s)) return false;
  const n = s.split('.').reduce((a, o) => a * 256 + Number(o), 0);
  const inv = (~n) >>> 0;
  return (inv & (inv + 1)) === 0;
}

/** The rule each value must meet, or undefined when it does. One place for parser and printer. */
function valueRule(name: BootParamName, value: string): string | undefined {
  switch (name) {
    case 'storage_ip': case 'sifip':
      return IPV4.test(value) ? undefined : 'must be an IPv4 address like 10.77.0.250';
    case 'storage_port':
      return /^[1-9]\d{0,4}$/.test(value) && Number(value) <= 65535 ? undefined : 'must be a port from 1 to 65535';
    case 'sif':
      return IFACE.test(value) ? undefined : 'must be an interface name (a letter, then up to 14 letters, digits, "_", ".", ":" or "-")';
    case 'sifnm':
      return isNetmask(value) ? undefined : 'must be a netmask like 255.255.255.0';
    case 'sifm':
      return value.split(',').every((m) => MODULE.test(m)) ? undefined : 'must be a comma list of kernel module names (letters, digits, "_", "-")';
    case 'ivid':
      return EXPORT.test(value) ? undefined : 'must be an export name: 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit';
    case 'root':
      return DEVICE.test(value) ? undefined : 'must be a device path like /dev/nbd0';
  }
}

const isParamName = (s: string): s is BootParamName => (BOOT_PARAMS as readonly string[]).includes(s);

interface Word { text: string; offset: number }

function words(line: string): Word[] {
  const out: Word[] = [];
  for (const m of line.matchAll(/[^ ]+/g)) out.push({ text: m[0], offset: m.index });
  return out;
}

export function parseBootLine(line: string): BootLine {
  if (typeof line !== 'string') throw new BootLineError(0, 0, 'must be text');
  const bad = /[^ -~]/.exec(line);
  if (bad) {
    // The bad character is not a space, so it ends the last word of the line cut just after it.
    throw new BootLineError(words(line.slice(0, bad.index + 1)).length, bad.index, 'only printable ASCII and spaces may appear');
  }
  const ws = words(line);
  const kernelArgs: string[] = [];
  const seen = new Map<BootParamName, string>();
  let inParams = false;
  let ended = false;
  ws.forEach((w, i) => {
    const at = (rule: string) => new BootLineError(i + 1, w.offset, rule);
    if (ended) throw at(`nothing may follow "${END_MARK}"`);
    if (w.text === END_MARK) { ended = true; return; }
    const eq = w.text.indexOf('=');
    const name = eq > 0 ? w.text.slice(0, eq) : w.text;
    if (!isParamName(name)) {
      if (inParams) throw at(`"${w.text}" is not a boot parameter (${BOOT_PARAMS.join(', ')}); other kernel arguments go before the parameters`);
      if (!KERNEL_ARG.test(w.text)) throw at('a kernel argument must be printable ASCII');
      kernelArgs.push(w.text);
      return;
    }
    inParams = true;
    if (eq < 0) throw at(`${name} needs a value: ${name}=VALUE`);
    const value = w.text.slice(eq + 1);
    const rule = valueRule(name, value);
    if (rule) throw at(`${name} ${rule}`);
    if (!seen.has(name)) seen.set(name, value);
  });
  if (!ended) throw new BootLineError(ws.length + 1, line.length, `the line must end with "${END_MARK}"`);
  const missing = REQUIRED_PARAMS.filter((p) => !seen.has(p));
  if (missing.length > 0) throw new BootLineError(ws.length, ws.at(-1)!.offset, `missing required parameter${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`);
  const get = (n: BootParamName) => seen.get(n);
  const params: BootParams = {
    storage_ip: get('storage_ip')!,
    storage_port: Number(get('storage_port')),
    ivid: get('ivid')!,
    root: get('root')!,
  };
  if (get('sif') !== undefined) params.sif = get('sif');
  if (get('sifip') !== undefined) params.sifip = get('sifip');
  if (get('sifnm') !== undefined) params.sifnm = get('sifnm');
  if (get('sifm') !== undefined) params.sifm = get('sifm')!.split(',');
  return { kernelArgs, params };
}

function valueText(name: BootParamName, p: BootParams): string | undefined {
  const v = p[name];
  if (v === undefined) return undefined;
  return Array.isArray(v) ? v.join(',') : String(v);
}

/** Canonical form: kernel arguments, the parameters in table order, `---`. Refuses what parse would refuse. */
export function printBootLine(b: BootLine): string {
  const out: string[] = [];
  b.kernelArgs.forEach((a) => {
    const name = a.includes('=') ? a.slice(0, a.indexOf('=')) : a;
    if (!KERNEL_ARG.test(a) || a === END_MARK || isParamName(name)) {
      throw new VlxError('invalid-input', `boot line: kernel argument ${JSON.stringify(a)} must be printable ASCII without spaces, and neither "${END_MARK}" nor a boot parameter`);
    }
    out.push(a);
  });
  for (const name of BOOT_PARAMS) {
    const v = valueText(name, b.params);
    if (v === undefined) {
      if (REQUIRED_PARAMS.includes(name)) throw new VlxError('invalid-input', `boot line: ${name} is required`);
      continue;
    }
    const rule = valueRule(name, v);
    if (rule) throw new VlxError('invalid-input', `boot line: ${name} ${rule} (got ${JSON.stringify(v)})`);
    out.push(`${name}=${v}`);
  }
  out.push(END_MARK);
  return out.join(' ');
}

/** The NBD export of one node's root overlay: unique per container and node. */
export function nodeExportName(container: string, node: number): string {
  return `${container}-node${node}`;
}

export interface NodeBootInput {
  container: string;
  node: number;
  /** The floating storage address (see the module comment). */
  storageIp: string;
  storagePort?: number;
  iface?: string;
  ip?: string;
  netmask?: string;
  modules?: string[];
  kernelArgs?: string[];
}

export function nodeBootLine(n: NodeBootInput): string {
  const params: BootParams = {
    storage_ip: n.storageIp,
    storage_port: n.storagePort ?? NBD_PORT,
    ivid: nodeExportName(n.container, n.node),
    root: NBD_ROOT_DEVICE,
  };
  if (n.iface) params.sif = n.iface;
  if (n.ip) params.sifip = n.ip;
  if (n.netmask) params.sifnm = n.netmask;
  if (n.modules && n.modules.length > 0) params.sifm = n.modules;
  return printBootLine({ kernelArgs: n.kernelArgs ?? [], params });
}
