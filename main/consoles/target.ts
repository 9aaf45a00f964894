import { checkName } from '../util/names.js';
import { invalid } from '../errors.js';

/** What a console attaches to: a node's shell, or a VM's serial console. */
export type ConsoleTarget = { node: string } | { vc: string; vm: string };

export function isVmTarget(t: ConsoleTarget): t is { vc: string; vm: string } {
  return 'vc' in t;
}

/**
 * `NODE` or `VC/VM`, as typed on the command line. Both parts are checked against the
 * name rules before they get near a path or a shell.
 */
export function parseConsoleTarget(text: unknown): ConsoleTarget {
  if (typeof text !== 'string') throw invalid('target', 'must be NODE or VC/VM', text);
  const parts = text.split('/');
  if (parts.length === 1) return { node: checkName('node', parts[0], 'node') };
  if (parts.length === 2) return { vc: checkName('vc', parts[0], 'VC name'), vm: checkName('vm', parts[1], 'VM name') };
  throw invalid('target', 'must be NODE or VC/VM (one "/" at most)', text);
}

export function targetTitle(t: ConsoleTarget): string {
  return isVmTarget(t) ? `${t.vc}/${t.vm}` : t.node;
}
