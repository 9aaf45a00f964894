import { z } from 'zod';
import { VlxError, invalid } from '../errors.js';
import { NAME_RULES, checkInt, checkName } from '../util/names.js';
import { DEFAULT_VC_POOL, allocateSubnet, checkRequestedSubnet, type Claim } from './subnet.js';

/**
 * What a VC is made of, with the rules each field must meet: the one copy of these limits
 * (the API contract's schema is built from them). Every error names the field (`memMb: …`);
 * the CLI translates a field into its flag, a form shows the message by the field.
 */
export const VC_LIMITS = {
  nodes: { min: 1, max: 256 },
  vcpus: { min: 1, max: 64 },
  memMb: { min: 32, max: 1_048_576 },
  diskGb: { min: 1, max: 4096 },
  swapMb: { min: 0, max: 65_536 },
} as const;

export type VcNumberField = keyof typeof VC_LIMITS;

const int = (f: VcNumberField) => z.number().int().min(VC_LIMITS[f].min).max(VC_LIMITS[f].max);

/** The validated spec; also the shape the API contract carries. */
export const VcSpecSchema = z.object({
  name: z.string().regex(NAME_RULES.vc.re),
  nodes: int('nodes'),
  vcpus: int('vcpus'),
  memMb: int('memMb'),
  diskGb: int('diskGb'),
  swapMb: int('swapMb'),
  image: z.string().regex(NAME_RULES.image.re),
  /** 'auto' until validateAgainstCluster resolves it to the VC's CIDR. */
  subnet: z.string(),
});
export type VcSpec = z.infer<typeof VcSpecSchema>;

/** Answers left out take these values. */
export const VC_DEFAULTS = { swapMb: 0, subnet: 'auto' } as const;

/**
 * Check raw answers (strings from the CLI or numbers from the GUI) field by field, in the
 * order the CLI lists them, and return the typed spec.
 */
export function parseVcSpec(raw: unknown): VcSpec {
  if (typeof raw !== 'object' || raw === null) throw invalid('VC spec', 'must be an object of answers', raw);
  const r = raw as Record<string, unknown>;
  const name = checkName('vc', r.name, 'name');
  const num = (f: VcNumberField): number => {
    const { min, max } = VC_LIMITS[f];
    const v = r[f] ?? (f === 'swapMb' ? VC_DEFAULTS.swapMb : undefined);
    if (v === undefined || v === '') throw invalid(f, 'is required');
    return checkInt(v, f, min, max);
  };
  const nodes = num('nodes');
  const vcpus = num('vcpus');
  const memMb = num('memMb');
  const diskGb = num('diskGb');
  const swapMb = num('swapMb');
  if (r.image === undefined || r.image === '') throw invalid('image', 'is required');
  const image = checkName('image', r.image, 'image');
  const subnetRaw = r.subnet ?? VC_DEFAULTS.subnet;
  if (typeof subnetRaw !== 'string') throw invalid('subnet', 'must be "auto" or an IPv4 CIDR', subnetRaw);
  const subnet = subnetRaw === 'auto' ? 'auto' : (checkRequestedSubnet(subnetRaw, nodes), subnetRaw);
  return VcSpecSchema.parse({ name, nodes, vcpus, memMb, diskGb, swapMb, image, subnet });
}

export interface ClusterImage {
  name: string;
  /** The template's virtual size, when known: a VM disk cannot be smaller. */
  virtualBytes?: number;
}

export interface ClusterFacts {
  nodes: readonly { name: string; memMb: number }[];
  images: readonly (string | ClusterImage)[];
  vcs: readonly { name: string; subnet?: string | null }[];
  /** Pool of VC subnets (manifest vcSubnetPool); default 10.200.0.0/16. */
  pool?: string;
  /** Networks no VC may overlap: the cluster network and the like. */
  reserved?: readonly Claim[];
}

const GIB = 1024 ** 3;

/** What a form shows before anything is typed: the same for the GUI wizard and the CLI's questions. */
export const VC_FORM_DEFAULTS = { nodes: 4, vcpus: 1, memMb: 128, diskGb: 1, swapMb: 0, image: 'tiny', subnet: 'auto' } as const;

export type VcField = keyof VcSpec;

/**
 * Every way a parsed spec does not fit the cluster as it is, one error per field (the first
 * rule a field breaks), with the resolved subnet when `auto` finds one. Each check runs only on
 * the facts it has: a form whose images or nodes are not loaded yet is not refused for them.
 * The service refuses with the first error (validateAgainstCluster); the wizard shows them all
 * as the person types.
 */
export function clusterErrors(spec: VcSpec, facts: ClusterFacts): { errors: Partial<Record<VcField, VlxError>>; subnet?: string } {
  const errors: Partial<Record<VcField, VlxError>> = {};
  if (facts.vcs.some((v) => v.name === spec.name)) {
    errors.name = new VlxError('conflict', `name: a VC named "${spec.name}" already exists`, 'choose another name or destroy it first');
  }

  const images = facts.images.map((i) => (typeof i === 'string' ? { name: i } : i));
  const image = images.find((i) => i.name === spec.image);
  if (!image && images.length > 0) {
    errors.image = invalid('image', `must be a known image (${images.map((i) => i.name).sort().join(', ')})`, spec.image);
  }

  if (facts.nodes.length > 0) {
    const largest = facts.nodes.reduce((a, b) => (b.memMb > a.memMb ? b : a));
    if (spec.memMb > largest.memMb) {
      errors.memMb = invalid('memMb', `must fit in one node: the largest node memory is ${largest.memMb} MB (${largest.name})`, spec.memMb);
    }
  }

  if (image?.virtualBytes !== undefined && spec.diskGb * GIB < image.virtualBytes) {
    const need = Math.ceil(image.virtualBytes / GIB);
    errors.diskGb = invalid('diskGb', `must be at least the size of image ${image.name} (${need} GB)`, spec.diskGb);
  }

  const taken: Claim[] = facts.vcs
    .filter((v): v is { name: string; subnet: string } => typeof v.subnet === 'string' && v.subnet !== '')
    .map((v) => ({ cidr: v.subnet, label: `VC ${v.name}` }));
  try {
    return { errors, subnet: allocateSubnet(facts.pool ?? DEFAULT_VC_POOL, taken, facts.reserved ?? [], spec.subnet, spec.nodes) };
  } catch (e) {
    if (!(e instanceof VlxError)) throw e;
    errors.subnet = e;
    return { errors };
  }
}

/** The order a person reads the fields in: the first error shown is the first field's. */
const FIELD_ORDER: VcField[] = ['name', 'nodes', 'vcpus', 'memMb', 'diskGb', 'swapMb', 'image', 'subnet'];

/**
 * Check a parsed spec against the cluster as it is, and resolve `subnet: auto` to a CIDR.
 * Nothing is created here; a caller that gets a spec back may create the VC.
 */
export function validateAgainstCluster(spec: VcSpec, facts: ClusterFacts): VcSpec {
  const images = facts.images.map((i) => (typeof i === 'string' ? i : i.name));
  if (images.length === 0) throw invalid('image', 'no images exist yet: build one with `vlx image build tiny`', spec.image);
  if (facts.nodes.length === 0) throw new VlxError('not-found', 'the cluster has no nodes to run a VC on');
  const { errors, subnet } = clusterErrors(spec, facts);
  const first = FIELD_ORDER.find((f) => errors[f]);
  if (first) throw errors[first]!;
  return { ...spec, subnet: subnet! };
}
