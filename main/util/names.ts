import { invalid } from '../errors.js';

/**
 * Strict patterns for every name that may reach a shell or a path on a node. Checked
 * before any command is built, so a bad name fails with the field and the rule named.
 */
export const NAME_RULES = {
  node: { re: /^[a-z][a-z0-9-]{0,31}$/, rule: 'must be 1-32 chars: a lowercase letter, then lowercase letters, digits or "-"' },
  cluster: { re: /^[a-z][a-z0-9-]{0,31}$/, rule: 'must be 1-32 chars: a lowercase letter, then lowercase letters, digits or "-"' },
  vc: { re: /^[a-z][a-z0-9-]{0,23}$/, rule: 'must be 1-24 chars: a lowercase letter, then lowercase letters, digits or "-"' },
  vm: { re: /^[a-z][a-z0-9-]{0,31}$/, rule: 'must be 1-32 chars: a lowercase letter, then lowercase letters, digits or "-"' },
  /** A VC snapshot's tag: it names files on shared storage. */
  tag: { re: /^[a-z][a-z0-9-]{0,31}$/, rule: 'must be 1-32 chars: a lowercase letter, then lowercase letters, digits or "-"' },
  image: { re: /^[a-z0-9][a-z0-9._-]{0,63}$/, rule: 'must be 1-64 chars: lowercase letters, digits, ".", "_" or "-", not starting with a punctuation mark' },
} as const;

export type NameKind = keyof typeof NAME_RULES;

export function checkName(kind: NameKind, value: unknown, field: string = kind): string {
  const { re, rule } = NAME_RULES[kind];
  if (typeof value !== 'string' || !re.test(value)) throw invalid(field, rule, value);
  return value;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

/** A node address: an IPv4 address or a DNS name (never anything a shell would read). */
export function checkAddress(value: unknown, field = 'address'): string {
  if (typeof value === 'string' && (IPV4.test(value) || HOSTNAME.test(value))) return value;
  throw invalid(field, 'must be an IPv4 address or a host name', value);
}

export function isIPv4(s: string): boolean {
  return IPV4.test(s);
}

export function checkInt(value: unknown, field: string, min: number, max: number): number {
  const n = typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
    throw invalid(field, `must be a whole number from ${min} to ${max}`, value);
  }
  return n;
}
