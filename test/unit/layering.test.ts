import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve, dirname } from 'node:path';

/**
 * The layering of DESIGN.md, checked by a tool rather than by memory:
 * - main/ never imports electron, React or the DOM;
 * - renderer/ imports only the contract, model types and its own files (plus UI libraries);
 * - only electron/ imports electron.
 */
const root = resolve(import.meta.dirname, '../..');

function files(dir: string): string[] {
  const out: string[] = [];
  let entries: string[] = [];
  try { entries = readdirSync(join(root, dir)); } catch { return out; }
  for (const name of entries) {
    const rel = join(dir, name);
    if (name === 'node_modules' || name === 'dist') continue;
    if (statSync(join(root, rel)).isDirectory()) out.push(...files(rel));
    else if (/\.(ts|tsx|mts)$/.test(name) && !name.endsWith('.d.ts')) out.push(rel);
  }
  return out;
}

function imports(file: string): string[] {
  const text = readFileSync(join(root, file), 'utf8');
  const specs: string[] = [];
  const re = /(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)|import\s+['"]([^'"]+)['"]/g;
  for (const m of text.matchAll(re)) specs.push(m[1] ?? m[2] ?? m[3]);
  return specs;
}

const resolveRel = (file: string, spec: string) => relative(root, resolve(root, dirname(file), spec)).replace(/\.(js|ts|tsx)$/, '');

describe('layering', () => {
  it('main/ never imports electron, React or DOM libraries', () => {
    const bad: string[] = [];
    for (const f of files('main')) {
      for (const s of imports(f)) {
        if (/^(electron|react|react-dom|zustand|@xterm\/)/.test(s) || s.includes('renderer/') || s.includes('electron/')) bad.push(`${f} imports ${s}`);
      }
      const text = readFileSync(join(root, f), 'utf8');
      if (/\b(document|window)\.\w/.test(text.replace(/\/\/.*$|\/\*[\s\S]*?\*\//gm, ''))) bad.push(`${f} uses the DOM`);
    }
    expect(bad).toEqual([]);
  });

  it('renderer/ imports only the contract, model types and its own modules', () => {
    const bad: string[] = [];
    for (const f of files('renderer')) {
      for (const s of imports(f)) {
        if (!s.startsWith('.')) {
          if (/^(react|react-dom|zustand|@xterm\/|chart\.js|vite|@vitejs\/)/.test(s) || s.startsWith('node:') && f.endsWith('vite.config.ts')) continue;
          bad.push(`${f} imports package ${s}`);
          continue;
        }
        const target = resolveRel(f, s);
        if (target.startsWith('renderer/')) continue;
        // The contract, its client and the bridge's wire format only: model types come from the contract too (no `*.types` side door).
        if (/^main\/api\/(contract|client|wire)$/.test(target)) continue;
        bad.push(`${f} imports ${target}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('only electron/ imports electron', () => {
    const bad: string[] = [];
    for (const dir of ['main', 'renderer', 'test', 'scripts', 'bench']) {
      for (const f of files(dir)) if (imports(f).some((s) => s === 'electron' || s.startsWith('electron/'))) bad.push(f);
    }
    expect(bad).toEqual([]);
  });

  it('no import runs from a lower layer of main/ to a higher one', () => {
    const bad: string[] = [];
    for (const f of files('main')) {
      const from = rankOf(f);
      for (const spec of imports(f)) {
        if (!spec.startsWith('.')) continue;
        const target = resolveRel(f, spec) + '.ts';
        const to = rankOf(target);
        if (to > from) bad.push(`${f} (${LAYERS[from]}) imports ${target} (${LAYERS[to]})`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('pure decision modules import no I/O, not even through what they import', () => {
    const bad: string[] = [];
    const seen = new Map<string, string | undefined>();
    // The first I/O reached from a file (a package or node: module that does I/O), or undefined.
    const ioOf = (f: string, stack: string[]): string | undefined => {
      if (seen.has(f)) return seen.get(f);
      seen.set(f, undefined);
      let found: string | undefined;
      for (const spec of valueImports(f)) {
        if (!spec.startsWith('.')) {
          if (IO_PACKAGES.test(spec)) { found = `${f} imports ${spec}`; break; }
          continue;
        }
        const target = resolveRel(f, spec) + '.ts';
        if (stack.includes(target)) continue;
        const deeper = ioOf(target, [...stack, target]);
        if (deeper) { found = deeper; break; }
      }
      seen.set(f, found);
      return found;
    };
    for (const f of files('main').filter(isPure)) {
      const io = ioOf(f, [f]);
      if (io) bad.push(`${f}: ${io}`);
    }
    expect(bad).toEqual([]);
  });

  it('drivers never import workflows or the service layer; ssh never writes the app configuration', () => {
    const bad: string[] = [];
    for (const f of files('main').filter((x) => rankOf(x) === LAYERS.indexOf('drivers'))) {
      for (const s of imports(f)) if (s.startsWith('.') && /^main\/(workflows|service)\//.test(resolveRel(f, s))) bad.push(`${f} imports ${s}`);
    }
    const writers = /\b(putCluster|removeCluster|useCluster|rememberLastNode|saveStore)\b/;
    for (const f of files('main/ssh')) {
      const text = readFileSync(join(root, f), 'utf8');
      if (writers.test(text)) bad.push(`${f} writes the cluster store`);
    }
    expect(bad).toEqual([]);
  });

  it('no source file is over 400 lines unless its first comment says why', () => {
    const bad: string[] = [];
    for (const f of [...files('main'), ...files('renderer'), ...files('electron')]) {
      const text = readFileSync(join(root, f), 'utf8');
      const lines = text.split('\n').length;
      if (lines > 400 && !/^[\s\S]{0,4000}?\/\*\*?[\s\S]*?(over|more than) 400 lines[\s\S]*?\*\//i.test(text)) bad.push(`${f}: ${lines} lines`);
    }
    expect(bad).toEqual([]);
  });
});

/**
 * The layers of main/, lowest first (DESIGN.md, "Layers and data flow"): a file may import
 * its own layer and any lower one. Pure rules and shapes at the bottom; faces at the top.
 */
const LAYERS = ['pure', 'api', 'core', 'state', 'drivers', 'workflows', 'service', 'faces'] as const;
const LAYER_OF: [RegExp, (typeof LAYERS)[number]][] = [
  [/^main\/(util|domain|placement)\/|^main\/errors\.ts$|^main\/tasks\/types\.ts$|^main\/config\/paths\.ts$/, 'pure'],
  [/^main\/api\//, 'api'],
  [/^main\/(config|ssh|db)\//, 'core'],
  [/^main\/(tasks|cluster)\//, 'state'],
  [/^main\/(vm|network|images|node-services|consoles|lab|nodes|boot|health|install)\//, 'drivers'],
  [/^main\/(workflows|ha)\//, 'workflows'],
  [/^main\/service\//, 'service'],
  [/^main\/(cli|web|agent)\//, 'faces'],
];

function rankOf(file: string): number {
  const hit = LAYER_OF.find(([re]) => re.test(file));
  if (!hit) throw new Error(`${file}: no layer (add its folder to LAYER_OF in the layering test)`);
  return LAYERS.indexOf(hit[1]);
}

/** Decisions and renderings with no I/O of their own: unit-tested exhaustively, runnable anywhere. */
const PURE_FILES = [
  /^main\/(util|domain|placement)\//, /^main\/errors\.ts$/,
  /^main\/api\/(contract|names|client|methods|events|dispatch|memory)\.ts$/,
  /^main\/network\/(routes|nft)\.ts$/, /^main\/node-services\/(plan|render)\.ts$/,
  /^main\/vm\/qemuArgs\.ts$/, /^main\/consoles\/(escape|target|scrollback)\.ts$/, /^main\/images\/cpio\.ts$/,
];
const isPure = (f: string) => PURE_FILES.some((re) => re.test(f));
const IO_PACKAGES = /^(node:(fs|child_process|net|tls|dgram|http|https|dns|os)(\/|$)|ssh2|pg|execa|ws|commander)/;

/** Imports that load code at run time (not `import type`). */
function valueImports(file: string): string[] {
  let text: string;
  try { text = readFileSync(join(root, file), 'utf8'); } catch { return []; }
  const specs: string[] = [];
  const re = /(?:^|\n)\s*(?:import|export)\s+(?!type\b)[^'"]*?from\s*['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)|(?:^|\n)\s*import\s+['"]([^'"]+)['"]/g;
  for (const m of text.matchAll(re)) specs.push(m[1] ?? m[2] ?? m[3]!);
  return specs;
}
