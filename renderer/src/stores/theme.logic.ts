/**
 * Light, dark, or whatever the system prefers. The setting is what the person chose; the
 * resolved theme is what is drawn. The page's colours come from CSS custom properties under
 * :root[data-theme]; terminals cannot read CSS, so their colours are here.
 */

export type ThemeSetting = 'light' | 'dark' | 'system';
export type Theme = 'light' | 'dark';

export const THEME_SETTINGS: readonly ThemeSetting[] = ['system', 'light', 'dark'];
export const THEME_LABELS: Record<ThemeSetting, string> = { system: 'Follow system', light: 'Light', dark: 'Dark' };
export const THEME_STORAGE_KEY = 'vlx.theme';

/** A stored value read back: anything that is not a known setting (old, edited, absent) means 'system'. */
export function parseThemeSetting(raw: unknown): ThemeSetting {
  return raw === 'light' || raw === 'dark' || raw === 'system' ? raw : 'system';
}

export function resolveTheme(setting: ThemeSetting, systemPrefersDark: boolean): Theme {
  return setting === 'system' ? (systemPrefersDark ? 'dark' : 'light') : setting;
}

/** "Toggle theme" flips what is drawn now; the choice stops following the system. */
export function toggledTheme(setting: ThemeSetting, systemPrefersDark: boolean): ThemeSetting {
  return resolveTheme(setting, systemPrefersDark) === 'dark' ? 'light' : 'dark';
}

/** xterm.js ITheme, as plain data (this module imports nothing). */
export interface TerminalColours {
  background: string;
  foreground: string;
  cursor: string;
  cursorAccent: string;
  selectionBackground: string;
  black: string; red: string; green: string; yellow: string; blue: string; magenta: string; cyan: string; white: string;
  brightBlack: string; brightRed: string; brightGreen: string; brightYellow: string; brightBlue: string; brightMagenta: string; brightCyan: string; brightWhite: string;
}

const DARK_TERMINAL: TerminalColours = {
  background: '#14171c', foreground: '#d8dde6', cursor: '#9cc3ff', cursorAccent: '#14171c', selectionBackground: '#3a4a63',
  black: '#1d2229', red: '#f0776f', green: '#7fd19b', yellow: '#e6c06a', blue: '#79a8f2', magenta: '#c99cf0', cyan: '#6fcfd6', white: '#d8dde6',
  brightBlack: '#6b7382', brightRed: '#ff9a93', brightGreen: '#a3e6b9', brightYellow: '#f3d68f', brightBlue: '#a1c3ff', brightMagenta: '#dcbcf7', brightCyan: '#9fe3e8', brightWhite: '#ffffff',
};

// On a light background the usual ANSI yellow and cyan are unreadable: darker tones here.
const LIGHT_TERMINAL: TerminalColours = {
  background: '#fbfbfc', foreground: '#1d2330', cursor: '#2f6fdb', cursorAccent: '#fbfbfc', selectionBackground: '#c9dbf7',
  black: '#1d2330', red: '#b42d26', green: '#1b7a43', yellow: '#8a5a00', blue: '#2457ad', magenta: '#8a3fb0', cyan: '#0f6e78', white: '#6b7382',
  brightBlack: '#5b6372', brightRed: '#c7362f', brightGreen: '#1f8a4c', brightYellow: '#9a6a00', brightBlue: '#2f6fdb', brightMagenta: '#9b4cc4', brightCyan: '#137f8a', brightWhite: '#3b4250',
};

export function terminalColours(theme: Theme): TerminalColours {
  return theme === 'dark' ? DARK_TERMINAL : LIGHT_TERMINAL;
}

/** WCAG contrast ratio of two #rrggbb colours (1 to 21). */
export function contrastRatio(a: string, b: string): number {
  const lum = (hex: string) => {
    const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex);
    if (!m) throw new Error(`not a #rrggbb colour: ${hex}`);
    const [r, g, bl] = [m[1]!, m[2]!, m[3]!].map((h) => {
      const c = parseInt(h, 16) / 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r! + 0.7152 * g! + 0.0722 * bl!;
  };
  const [hi, lo] = [lum(a), lum(b)].sort((x, y) => y - x);
  return (hi! + 0.05) / (lo! + 0.05);
}
