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
          if (/^(react|react-dom|zustand|@xterm\/|vite|@vitejs\/)/.test(s) || s.startsWith('node:') && f.endsWith('vite.config.ts')) continue;
          bad.push(`${f} imports package ${s}`);
          continue;
        }
        const target = resolveRel(f, s);
        if (target.startsWith('renderer/')) continue;
        if (/^main\/api\/(contract|client)$/.test(target) || /^main\/.*types$/.test(target)) continue;
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
});
