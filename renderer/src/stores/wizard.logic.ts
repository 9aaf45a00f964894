import { VcSpec, type NodeInfo, type VcSpec as VcSpecT } from '../../../main/api/contract.js';

export type WizardField = 'name' | 'nodes' | 'vcpus' | 'memMb' | 'diskGb' | 'swapMb' | 'image' | 'subnet';
export type WizardFields = Record<WizardField, string>;
export const WIZARD_FIELDS: WizardField[] = ['name', 'nodes', 'vcpus', 'memMb', 'diskGb', 'swapMb', 'image', 'subnet'];

export const WIZARD_DEFAULTS: WizardFields = { name: '', nodes: '4', vcpus: '1', memMb: '256', diskGb: '2', swapMb: '0', image: 'tiny', subnet: 'auto' };

export interface WizardContext {
  /** images that exist */
  images: readonly string[];
  /** VCs that exist, with their subnets */
  vcs: readonly { name: string; subnet: string }[];
  nodes: readonly NodeInfo[];
  /** the physical network, which a VC subnet may not overlap */
  clusterNetwork?: string;
}

export interface WizardResult {
  errors: Partial<Record<WizardField, string>>;
  spec?: VcSpecT;
}

const INT_FIELDS: WizardField[] = ['nodes', 'vcpus', 'memMb', 'diskGb', 'swapMb'];

function toNumber(s: string): number | string {
  const t = s.trim();
  return /^-?\d+$/.test(t) ? Number(t) : t === '' ? NaN : t;
}

function ipToInt(ip: string): number {
  return ip.split('.').reduce((a, o) => a * 256 + Number(o), 0);
}
export function cidrRange(cidr: string): [number, number] | undefined {
  const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(cidr);
  if (!m) return undefined;
  const len = Number(m[2]);
  const size = 2 ** (32 - len);
  const start = Math.floor(ipToInt(m[1]!) / size) * size;
  return [start, start + size - 1];
}
export function overlaps(a: string, b: string): boolean {
  const x = cidrRange(a);
  const y = cidrRange(b);
  return !!x && !!y && x[0] <= y[1] && y[0] <= x[1];
}

/**
 * Validation as the person types: the contract's own rules (the same the service applies),
 * then what only the current state knows — a name taken, an unknown image, more memory than
 * any node has, a subnet that overlaps the cluster network or another VC.
 */
export function validateWizard(fields: WizardFields, ctx: WizardContext): WizardResult {
  const raw: Record<string, unknown> = { ...fields };
  for (const f of INT_FIELDS) raw[f] = toNumber(fields[f]);
  raw.name = fields.name.trim();
  raw.subnet = fields.subnet.trim();
  const errors: Partial<Record<WizardField, string>> = {};
  const parsed = VcSpec.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const f = issue.path[0] as WizardField;
      if (!errors[f]) errors[f] = f && INT_FIELDS.includes(f) && typeof raw[f] !== 'number' ? `${issue.message.replace(/^must be/, 'must be')}` : issue.message;
    }
  }
  const name = String(raw.name);
  if (!errors.name && ctx.vcs.some((v) => v.name === name)) errors.name = `a virtual cluster named "${name}" already exists`;
  if (!errors.image && ctx.images.length > 0 && !ctx.images.includes(fields.image)) errors.image = `no image named "${fields.image}" (build or import it first)`;
  const mem = raw.memMb;
  const up = ctx.nodes.filter((n) => n.state === 'up');
  if (!errors.memMb && typeof mem === 'number' && up.length > 0) {
    const most = Math.max(...up.map((n) => n.memMb));
    if (mem > most) errors.memMb = `larger than any node (the largest has ${most} MB)`;
  }
  const subnet = String(raw.subnet);
  if (!errors.subnet && subnet !== 'auto') {
    if (ctx.clusterNetwork && overlaps(subnet, ctx.clusterNetwork)) errors.subnet = `overlaps the cluster network ${ctx.clusterNetwork}`;
    else {
      const other = ctx.vcs.find((v) => v.subnet && overlaps(subnet, v.subnet));
      if (other) errors.subnet = `overlaps ${other.subnet} of virtual cluster "${other.name}"`;
    }
  }
  if (Object.keys(errors).length > 0 || !parsed.success) return { errors };
  return { errors, spec: parsed.data };
}
