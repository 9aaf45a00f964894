import { VcSpec, VC_FORM_DEFAULTS, clusterErrors, type NodeInfo, type VcSpec as VcSpecT } from '../../../main/api/contract.js';

export type WizardField = 'name' | 'nodes' | 'vcpus' | 'memMb' | 'diskGb' | 'swapMb' | 'image' | 'subnet';
export type WizardFields = Record<WizardField, string>;
export const WIZARD_FIELDS: WizardField[] = ['name', 'nodes', 'vcpus', 'memMb', 'diskGb', 'swapMb', 'image', 'subnet'];

/** The domain's form defaults (the CLI asks with the same ones), as the text fields show them. */
export const WIZARD_DEFAULTS: WizardFields = {
  name: '', nodes: String(VC_FORM_DEFAULTS.nodes), vcpus: String(VC_FORM_DEFAULTS.vcpus), memMb: String(VC_FORM_DEFAULTS.memMb),
  diskGb: String(VC_FORM_DEFAULTS.diskGb), swapMb: String(VC_FORM_DEFAULTS.swapMb), image: VC_FORM_DEFAULTS.image, subnet: VC_FORM_DEFAULTS.subnet,
};

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

/** A rule's message next to its field: without the field's name in front or the value echoed after. */
function shown(field: WizardField, message: string): string {
  return message.replace(new RegExp(`^${field}: `), '').replace(/ \(got [^)]*\)$/, '');
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
  if (parsed.success) {
    // What only the cluster knows, by the same rules the service applies (domain/vcSpec clusterErrors).
    const { errors: fit } = clusterErrors(parsed.data, {
      nodes: ctx.nodes.filter((n) => n.state === 'up').map((n) => ({ name: n.name, memMb: n.memMb })),
      images: ctx.images,
      vcs: ctx.vcs,
      ...(ctx.clusterNetwork ? { reserved: [{ cidr: ctx.clusterNetwork, label: 'the cluster network' }] } : {}),
    });
    for (const [f, e] of Object.entries(fit) as [WizardField, Error][]) errors[f] ??= shown(f, e.message);
  }
  if (Object.keys(errors).length > 0 || !parsed.success) return { errors };
  return { errors, spec: parsed.data };
}
