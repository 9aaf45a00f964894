import { createClient, type Client, type Transport } from '../../main/api/client.js';

/**
 * The one client the stores use. Set once at boot (or by a test) from whichever transport
 * this face has; stores never know which one it is.
 */
let client: Client | undefined;

export function setTransport(t: Transport): Client {
  client = createClient(t);
  return client;
}

export function api(): Client {
  if (!client) throw new Error('the API client is not set up yet');
  return client;
}

/**
 * A hint written for the terminal ("run `vlx db deploy --node NODE`") means nothing in a
 * window: the screens leave it out rather than show a command line or a flag.
 */
export function cliOnly(hint: string): boolean {
  return /`vlx\b|(^|[\s(])--[a-z][a-z-]*/.test(hint);
}

/** A caught error as the screens show it. */
export interface ShownError {
  code: string;
  message: string;
  hint?: string;
}

/**
 * Where the window does what a terminal hint's command does. The first command a hint
 * names decides; a hint whose command has no place here is left out.
 */
const WINDOW_PLACE: ReadonlyArray<readonly [RegExp, string]> = [
  [/`vlx db deploy\b/, 'Deploy it on the Nodes screen (Cluster database, Deploy…)'],
  [/`vlx db status\b/, 'See the Nodes screen: Cluster database.'],
  [/`vlx services deploy\b/, 'Deploy them on the Nodes screen: Node services, Deploy.'],
  [/`vlx lab up\b/, 'Start the lab from the Connect screen.'],
  [/`vlx image build\b/, 'Build one on the Images screen.'],
  [/`vlx image list\b/, 'See the Images screen.'],
  [/`vlx tasks\b/, 'See the task log.'],
  [/`vlx (vc (list|status)|nodes)\b/, 'See the Virtual clusters and Topology screens.'],
  [/`vlx cluster (list|add)\b/, 'See the Connect screen.'],
];

export function windowHint(hint: string): string | undefined {
  if (!cliOnly(hint)) return hint;
  const first = hint.indexOf('`vlx');
  if (first < 0) return undefined;
  const rest = hint.slice(first);
  return WINDOW_PLACE.find(([re]) => re.test(rest) && rest.search(re) === 0)?.[1];
}

export function shown(e: unknown): ShownError {
  if (e && typeof e === 'object' && 'message' in e) {
    const o = e as { code?: unknown; message: unknown; hint?: unknown };
    const hint = typeof o.hint === 'string' ? windowHint(o.hint) : undefined;
    return {
      code: typeof o.code === 'string' ? o.code : 'internal',
      message: String(o.message),
      ...(hint ? { hint } : {}),
    };
  }
  return { code: 'internal', message: String(e) };
}
