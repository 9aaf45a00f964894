/** What a lab may be built with: the one copy, read by the lab, the contract and every face. */
export const LAB_LIMITS = {
  nodes: { min: 1, max: 32 },
  cores: { min: 1, max: 1024 },
  memMb: { min: 128, max: 16 * 1024 * 1024 },
} as const;

export const LAB_DEFAULTS = { nodes: 4, cores: 4, memMb: 8192 } as const;
