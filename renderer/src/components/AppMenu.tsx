import { useEffect, useRef, useState } from 'react';
import { ACTIONS, runAction } from '../actions/index.js';
import { useTheme } from '../stores/theme.js';
import { THEME_LABELS, THEME_SETTINGS, type ThemeSetting } from '../stores/theme.logic.js';

/** The menu of every action, grouped as the palette names them; the same registry, clicked instead of typed. */
export function AppMenu() {
  const [open, setOpen] = useState(false);
  const ref = useRef<HTMLDivElement>(null);
  const groups = new Map<string, typeof ACTIONS[number][]>();
  for (const a of ACTIONS) groups.set(a.category, [...(groups.get(a.category) ?? []), a]);
  useEffect(() => {
    if (!open) return;
    ref.current?.querySelector<HTMLElement>('button[role="menuitem"]')?.focus();
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') { setOpen(false); return; }
      if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
        e.preventDefault();
        const items = [...(ref.current?.querySelectorAll<HTMLElement>('button[role="menuitem"]') ?? [])];
        const i = items.indexOf(document.activeElement as HTMLElement);
        items[(i + (e.key === 'ArrowDown' ? 1 : items.length - 1)) % items.length]?.focus();
      }
    };
    const onDown = (e: MouseEvent) => { if (!ref.current?.contains(e.target as Node)) setOpen(false); };
    window.addEventListener('keydown', onKey);
    window.addEventListener('mousedown', onDown);
    return () => { window.removeEventListener('keydown', onKey); window.removeEventListener('mousedown', onDown); };
  }, [open]);
  return (
    <div className="app-menu" ref={ref}>
      <button className="nav" onClick={() => void runAction('palette.show')} title="Find any action by name (Ctrl+Shift+P or F1)" data-testid="open-palette">
        <span className="icon-glyph" aria-hidden="true">⌘</span><span>Commands</span><kbd className="nav-kbd">F1</kbd>
      </button>
      <button className="nav" onClick={() => setOpen((o) => !o)} aria-haspopup="menu" aria-expanded={open} data-testid="app-menu">
        <span className="icon-glyph" aria-hidden="true">☰</span><span>All actions</span>
      </button>
      {open && (
        <div className="menu app-menu-list" role="menu" aria-label="All actions">
          {[...groups].map(([category, actions]) => (
            <div key={category} role="group" aria-label={category}>
              <div className="menu-sep">{category}</div>
              {actions.map((a) => (
                <button key={a.id} role="menuitem" onClick={() => { setOpen(false); void runAction(a.id); }}>
                  <span>{a.title}</span>
                  {a.shortcut && <span className="menu-keys">{a.shortcut.map((s) => <kbd key={s}>{s}</kbd>)}</span>}
                </button>
              ))}
            </div>
          ))}
        </div>
      )}
    </div>
  );
}

export function ThemeSwitch() {
  const setting = useTheme((s) => s.setting);
  const theme = useTheme((s) => s.theme);
  const set = useTheme((s) => s.set);
  return (
    <label className="sb-item theme-switch" title={setting === 'system' ? `Following the system (now ${theme})` : undefined}>
      Theme
      <select value={setting} onChange={(e) => set(e.target.value as ThemeSetting)} aria-label="Theme" data-testid="theme-select">
        {THEME_SETTINGS.map((t) => <option key={t} value={t}>{THEME_LABELS[t]}{t === 'system' ? ` (${theme})` : ''}</option>)}
      </select>
    </label>
  );
}
