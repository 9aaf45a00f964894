import { readFileSync } from 'node:fs';
import { createInterface, type Interface } from 'node:readline/promises';
import { stringify } from 'yaml';
import { VlxError } from '../errors.js';
import { INSTALL_DEFAULTS, validateInstallConfig } from '../domain/installConfig.js';
import { call } from './client.js';

/**
 * `vlx install --interactive` and `vlx install macs`: questions on the terminal, each answer
 * checked at once by the install config's own rules (an error about the field just answered
 * asks it again), then the MACs gathered one of the three ways.
 */
export async function withPrompt<T>(fn: (rl: Interface) => Promise<T>): Promise<T> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return await fn(rl);
  } catch (e) {
    if (e instanceof Error && e.name === 'AbortError') {
      process.stderr.write('\n');
      throw new VlxError('cancelled', 'cancelled at the prompt; nothing was changed');
    }
    throw e;
  } finally {
    rl.close();
  }
}

export async function askLine(rl: Interface, q: string): Promise<string> {
  return rl.question(q);
}

type Cfg = Record<string, unknown>;

function setPath(o: Cfg, path: string, value: unknown): void {
  const keys = path.split('.');
  let at: Cfg = o;
  for (const k of keys.slice(0, -1)) at = (at[k] ??= {}) as Cfg;
  if (value === undefined) delete at[keys.at(-1)!];
  else at[keys.at(-1)!] = value;
}

/** Stand-ins for what is asked later, so an answer is judged only on its own field. */
const FILLER_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGZpbGxlcmZpbGxlcmZpbGxlcmZpbGxlcmZpbGxlcjAw filler';
function withFillers(c: Cfg, count: number): Cfg {
  const f = structuredClone(c);
  const net = (f.network ??= {}) as Cfg;
  net.boot ??= { firstIp: '10.254.254.1' };
  if (!f.nodes) f.nodes = Array.from({ length: count }, (_, i) => ({ mac: `02:00:00:00:${(i >> 8).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}` }));
  f.sshKeys ??= [FILLER_KEY];
  return f;
}

interface Question { path: string; ask: string; def?: (c: Cfg) => string | undefined; parse?: (s: string) => unknown }
const asNumber = (s: string) => (/^-?\d+$/.test(s) ? Number(s) : s);
const derived = (pick: (p: NonNullable<ReturnType<typeof planOf>>) => string) => (c: Cfg) => { const p = planOf(c); return p ? pick(p) : undefined; };
function planOf(c: Cfg) {
  const v = validateInstallConfig(withFillers(c, Number(c.nodeCount) || 1));
  return v.ok ? v.plan : undefined;
}

const QUESTIONS: Question[] = [
  { path: 'container', ask: 'container name (distinct per installation)', def: () => INSTALL_DEFAULTS.container },
  { path: 'baseImage', ask: 'base OS image', def: () => INSTALL_DEFAULTS.baseImage },
  { path: 'sharedRoot', ask: 'shared storage', def: () => INSTALL_DEFAULTS.sharedRoot },
  { path: 'nodeCount', ask: 'number of nodes', parse: asNumber },
  { path: 'sizes.rootMb', ask: 'root volume size (MB)', def: () => String(INSTALL_DEFAULTS.rootMb), parse: asNumber },
  { path: 'sizes.swapMb', ask: 'swap size (MB)', def: () => String(INSTALL_DEFAULTS.swapMb), parse: asNumber },
  { path: 'sizes.sharedMb', ask: 'shared size (MB)', def: () => String(INSTALL_DEFAULTS.sharedMb), parse: asNumber },
  { path: 'hostnamePrefix', ask: 'hostname prefix (nodes PREFIX1…PREFIXn)', def: () => INSTALL_DEFAULTS.hostnamePrefix },
  { path: 'network.boot.firstIp', ask: 'first node IP on the boot network' },
  { path: 'network.boot.netmask', ask: 'boot network netmask', def: () => INSTALL_DEFAULTS.netmask },
  { path: 'network.storageIp', ask: 'storage address (serves the roots)', def: derived((p) => p.storageIp) },
  { path: 'gateway.primary', ask: 'primary gateway node IP', def: derived((p) => p.primary) },
  { path: 'gateway.backup', ask: 'backup gateway node IP', def: derived((p) => p.backup) },
  { path: 'gateway.spare', ask: 'spare IP (moves between primary and backup)', def: derived((p) => p.spare) },
  { path: 'gateway.domain', ask: 'domain (empty: none)' },
];

async function askAll(rl: Interface, c: Cfg): Promise<void> {
  for (const q of QUESTIONS) {
    for (;;) {
      const def = q.def?.(c);
      const typed = (await rl.question(`${q.ask}${def !== undefined ? ` [${def}]` : ''}: `)).trim();
      const text = typed === '' ? def : typed;
      if (text === undefined || text === '') { setPath(c, q.path, undefined); if (q.path !== 'nodeCount' && q.path !== 'network.boot.firstIp') break; process.stderr.write('  an answer is needed\n'); continue; }
      setPath(c, q.path, q.parse ? q.parse(text) : text);
      const v = validateInstallConfig(withFillers(c, Number(c.nodeCount) || 1));
      const mine = v.ok ? [] : v.errors.filter((e) => e.path === q.path || e.path.startsWith(`${q.path}.`) || (q.path.startsWith('sizes.') && e.path === 'sizes'));
      if (mine.length === 0) break;
      for (const e of mine) process.stderr.write(`  ${e.path}: ${e.rule}\n`);
    }
  }
}

export interface MacSource { csv?: string; manual?: boolean; watch?: boolean; count?: number; node?: string }
type Entry = { ordinal: number; mac: string; hostname?: string };

async function watchMacs(rl: Interface, count: number, node?: string): Promise<Entry[]> {
  const got: Entry[] = [];
  let r = await call('install.macs', { ...(node ? { node } : {}), known: [] });
  process.stderr.write(`watching the DHCP log of ${r.node}: power the machines on one at a time${count ? ` (${count} to go)` : '; Ctrl-D ends'}\n`);
  while (!count || got.length < count) {
    await new Promise((res) => setTimeout(res, 1000));
    r = await call('install.macs', { node: r.node, cursor: r.cursor, known: got.map((g) => g.mac) });
    for (const mac of r.macs) {
      const ordinal = got.length + 1;
      const yes = (await rl.question(`node ${ordinal}: ${mac} seen. Take it as node ${ordinal}? [Y/n] `)).trim().toLowerCase();
      if (yes === '' || yes === 'y' || yes === 'yes') got.push({ ordinal, mac });
      if (count && got.length >= count) break;
    }
  }
  return got;
}

async function manualMacs(rl: Interface, count: number): Promise<Entry[]> {
  const got: Entry[] = [];
  while (!count || got.length < count) {
    const typed = (await rl.question(`MAC of node ${got.length + 1}${count ? '' : ' (empty line ends)'}: `)).trim();
    if (!typed && !count) break;
    const r = await call('install.parseMacs', { text: typed, known: got.map((g) => g.mac) });
    for (const e of r.errors) process.stderr.write(`  ${e.text ?? ''}: ${e.rule}\n`);
    for (const e of r.entries) if (!count || got.length < count) got.push({ ordinal: got.length + 1, mac: e.mac });
  }
  return got;
}

function csvMacs(file: string): Promise<Entry[]> {
  let text: string;
  try { text = readFileSync(file, 'utf8'); } catch (e) { throw new VlxError('not-found', `--csv: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`); }
  return call('install.parseMacs', { csv: text }).then((r) => {
    if (r.errors.length > 0) throw new VlxError('invalid-input', r.errors.map((e) => `${file}${e.line ? `:${e.line}` : ''}: ${e.rule}`).join('\n'));
    return r.entries;
  });
}

export async function gatherMacs(src: MacSource | undefined, count = 0): Promise<Entry[]> {
  if (!src) throw new VlxError('invalid-input', 'give one of --csv FILE, --manual or --watch');
  if (src.csv) return csvMacs(src.csv);
  return withPrompt((rl) => (src.watch ? watchMacs(rl, src.count ?? count, src.node) : manualMacs(rl, src.count ?? count)));
}

/** Every question, then the MACs and keys; prints the config and asks whether to install it now. */
export async function installInteractively(): Promise<string | undefined> {
  if (!process.stdin.isTTY) throw new VlxError('invalid-input', '--interactive needs a terminal', 'write a config (`vlx install --example`) and give it with --config');
  const { yaml: example } = await call('install.example', {});
  const exampleKey = /^ {2}- (ssh-\S+ \S+.*)$/m.exec(example)?.[1];
  const c: Cfg = {};
  const count = await withPrompt(async (rl) => {
    await askAll(rl, c);
    return Number(c.nodeCount);
  });
  const how = await withPrompt((rl) => rl.question('MAC addresses: 1 automatic (watch power-ons), 2 manual, 3 from a CSV file [1]: '));
  const macs = how.trim() === '3'
    ? await csvMacs(await withPrompt((rl) => rl.question('CSV file (ordinal,mac[,hostname]): ')).then((s) => s.trim()))
    : await gatherMacs(how.trim() === '2' ? { manual: true } : { watch: true }, count);
  c.nodes = macs.map((m) => ({ mac: m.mac, ...(m.hostname ? { hostname: m.hostname } : {}) }));
  const key = await withPrompt((rl) => rl.question(`SSH public key for root${exampleKey && !exampleKey.includes('replace-with') ? ` [${exampleKey.slice(0, 40)}…]` : ''}: `));
  c.sshKeys = [key.trim() || exampleKey || ''];
  const yaml = stringify(c);
  process.stdout.write(`# the config from your answers (save it: restore and update-original read it back from the manifest)\n${yaml}`);
  const go = await withPrompt((rl) => rl.question('install it now? [y/N] '));
  return /^y(es)?$/i.test(go.trim()) ? yaml : undefined;
}
