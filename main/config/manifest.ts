import { z } from 'zod';

/**
 * The cluster manifest (successor of the report's INSTALL.info). Kept on shared storage at
 * <shared>/manifest.json and mirrored in the DB; the workstation caches the node list.
 */
export const Manifest = z.object({
  version: z.literal(1),
  name: z.string(),
  sharedRoot: z.string().default('/srv/virtualinux'),
  nodes: z.array(z.object({
    name: z.string(),
    address: z.string(),
    cores: z.number().int().positive(),
    memMb: z.number().int().positive(),
  })).min(1),
  /** Where the cluster database runs (no password here: that stays on the workstation). */
  db: z.object({ node: z.string(), host: z.string(), port: z.number().int() }).optional(),
  /** Pool that VC subnets (one /24 each) are taken from. */
  vcSubnetPool: z.string().default('10.200.0.0/16'),
  /** The physical network, which no VC subnet may overlap. */
  clusterNetwork: z.string(),
});
export type Manifest = z.infer<typeof Manifest>;
