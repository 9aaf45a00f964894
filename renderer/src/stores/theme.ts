import { create } from 'zustand';
import { parseThemeSetting, resolveTheme, toggledTheme, THEME_STORAGE_KEY, type Theme, type ThemeSetting } from './theme.logic.js';

interface ThemeStore {
  setting: ThemeSetting;
  /** what is drawn: the setting, or the system's preference when the setting is 'system' */
  theme: Theme;
  systemDark: boolean;
  set(setting: ThemeSetting): void;
  toggle(): void;
}

const query = typeof matchMedia === 'function' ? matchMedia('(prefers-color-scheme: dark)') : undefined;

function stored(): ThemeSetting {
  try { return parseThemeSetting(localStorage.getItem(THEME_STORAGE_KEY)); } catch { return 'system'; }
}

function apply(theme: Theme): void {
  if (typeof document === 'undefined') return;
  document.documentElement.dataset.theme = theme;
}

const initialSetting = stored();
const initialDark = query?.matches ?? false;

export const useTheme = create<ThemeStore>()((set, get) => ({
  setting: initialSetting,
  systemDark: initialDark,
  theme: resolveTheme(initialSetting, initialDark),
  set(setting) {
    try { localStorage.setItem(THEME_STORAGE_KEY, setting); } catch { /* private mode: the choice lasts this session */ }
    set({ setting, theme: resolveTheme(setting, get().systemDark) });
  },
  toggle() {
    get().set(toggledTheme(get().setting, get().systemDark));
  },
}));

// Applied before the first render (this module is imported at boot), so there is no flash of the other theme.
apply(useTheme.getState().theme);
useTheme.subscribe((s, prev) => { if (s.theme !== prev.theme) apply(s.theme); });

// 'system' follows the system live: a desktop that switches to dark at dusk switches the app too.
query?.addEventListener('change', (e) => {
  useTheme.setState((s) => ({ systemDark: e.matches, theme: resolveTheme(s.setting, e.matches) }));
});

// Another window of the app changed the setting.
if (typeof window !== 'undefined') {
  window.addEventListener('storage', (e) => {
    if (e.key !== THEME_STORAGE_KEY) return;
    const setting = parseThemeSetting(e.newValue);
    useTheme.setState((s) => ({ setting, theme: resolveTheme(setting, s.systemDark) }));
  });
}
