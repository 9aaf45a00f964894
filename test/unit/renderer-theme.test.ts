import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { contrastRatio, parseThemeSetting, resolveTheme, terminalColours, toggledTheme, type Theme } from '../../renderer/src/stores/theme.logic.js';

describe('theme setting', () => {
  it('resolves: a fixed choice stands, "system" follows the system', () => {
    expect(resolveTheme('light', true)).toBe('light');
    expect(resolveTheme('dark', false)).toBe('dark');
    expect(resolveTheme('system', true)).toBe('dark');
    expect(resolveTheme('system', false)).toBe('light');
  });

  it('reads anything stored that is not a setting as "system"', () => {
    expect(parseThemeSetting('dark')).toBe('dark');
    expect(parseThemeSetting('light')).toBe('light');
    for (const bad of [null, undefined, '', 'Dark', 'solarized', 1, {}, '__proto__']) expect(parseThemeSetting(bad)).toBe('system');
  });

  it('toggles what is drawn, leaving "system"', () => {
    expect(toggledTheme('light', true)).toBe('dark');
    expect(toggledTheme('dark', false)).toBe('light');
    expect(toggledTheme('system', true)).toBe('light');
    expect(toggledTheme('system', false)).toBe('dark');
  });
});

describe('terminal colours', () => {
  it('keep text readable on each theme\'s background', () => {
    for (const t of ['light', 'dark'] as Theme[]) {
      const c = terminalColours(t);
      expect(contrastRatio(c.foreground, c.background), `${t} foreground`).toBeGreaterThanOrEqual(7);
      // The colours programs print in (ls, grep, systemd): each must still be legible.
      for (const k of ['red', 'green', 'yellow', 'blue', 'magenta', 'cyan'] as const) {
        expect(contrastRatio(c[k], c.background), `${t} ${k}`).toBeGreaterThanOrEqual(3);
      }
    }
  });

  it('measures contrast as WCAG does', () => {
    expect(contrastRatio('#000000', '#ffffff')).toBeCloseTo(21, 5);
    expect(contrastRatio('#777777', '#777777')).toBe(1);
    expect(() => contrastRatio('black', '#fff')).toThrow(/not a #rrggbb/);
  });
});

/** The custom properties one rule block of styles.css defines. */
function block(css: string, selector: string): Map<string, string> {
  const at = css.indexOf(`${selector} {`);
  if (at < 0) throw new Error(`no block ${selector}`);
  const body = css.slice(css.indexOf('{', at) + 1, css.indexOf('}', at));
  return new Map([...body.matchAll(/(--[a-z0-9-]+)\s*:\s*([^;]+);/g)].map((m) => [m[1]!, m[2]!.trim()]));
}

describe('styles.css themes', () => {
  const css = readFileSync('renderer/src/styles.css', 'utf8');
  const light = block(css, ':root, :root[data-theme="light"]');
  const dark = block(css, ':root[data-theme="dark"]');
  const common = block(css, ':root');

  it('define the same colours in light and dark', () => {
    expect([...dark.keys()].sort()).toEqual([...light.keys()].sort());
  });

  it('define every variable the rules use', () => {
    const used = new Set([...css.matchAll(/var\((--[a-z0-9-]+)/g)].map((m) => m[1]!));
    const local = new Set([...css.matchAll(/[{;]\s*(--[a-z0-9-]+)\s*:/g)].map((m) => m[1]!)); // e.g. a chip's own --vc
    const missing = [...used].filter((v) => !light.has(v) && !common.has(v) && !local.has(v));
    expect(missing).toEqual([]);
  });

  it('keep text readable in both themes', () => {
    for (const [name, vars] of [['light', light], ['dark', dark]] as const) {
      expect(contrastRatio(vars.get('--text')!, vars.get('--panel')!), `${name} text`).toBeGreaterThanOrEqual(7);
      expect(contrastRatio(vars.get('--text')!, vars.get('--bg')!), `${name} text on bg`).toBeGreaterThanOrEqual(7);
      expect(contrastRatio(vars.get('--muted')!, vars.get('--panel')!), `${name} muted`).toBeGreaterThanOrEqual(4.5);
      expect(contrastRatio(vars.get('--bad')!, vars.get('--bad-soft')!), `${name} error`).toBeGreaterThanOrEqual(4.5);
      expect(contrastRatio(vars.get('--accent-text')!, vars.get('--accent-soft')!), `${name} badge`).toBeGreaterThanOrEqual(4.5);
    }
  });

  it('paint the terminal pane the colour of the terminal drawn in it', () => {
    expect(light.get('--term-bg')).toBe(terminalColours('light').background);
    expect(dark.get('--term-bg')).toBe(terminalColours('dark').background);
  });

  it('hard-code no colour outside the theme blocks, except white text on the accent and the brand mark', () => {
    const rules = css.slice(css.indexOf('* { box-sizing'));
    const colours = [...rules.matchAll(/#[0-9a-fA-F]{3,8}\b|rgba?\([^)]*\)/g)].map((m) => m[0]);
    expect(colours.filter((c) => !['#fff', '#3a7be6', '#2456b0', '#2f6fdb'].includes(c))).toEqual([]);
  });
});
