/**
 * Keyboard shortcuts as chords written the way the palette shows them ("Ctrl+Shift+P", "F1",
 * "Alt+3"). A key event is turned into the same spelling, so a registry entry is matched by
 * string equality and shown exactly as it is written.
 */

export interface KeyLike {
  key: string;
  code: string;
  ctrlKey: boolean;
  shiftKey: boolean;
  altKey: boolean;
  metaKey: boolean;
}

const MODIFIER_KEYS = new Set(['Control', 'Shift', 'Alt', 'Meta', 'AltGraph', 'CapsLock']);

/** The key's own name, independent of Shift and keyboard layout for letters and digits. */
function keyName(e: KeyLike): string | undefined {
  if (/^Key[A-Z]$/.test(e.code)) return e.code.slice(3);
  if (/^Digit\d$/.test(e.code)) return e.code.slice(5);
  if (MODIFIER_KEYS.has(e.key)) return undefined;
  if (e.key === ' ') return 'Space';
  if (e.key.length === 1) return e.key.toUpperCase();
  return e.key; // F1, Escape, Enter, ArrowUp, …
}

/** The chord a key event makes, or undefined for a lone modifier. Cmd counts as Ctrl. */
export function chordOf(e: KeyLike): string | undefined {
  const key = keyName(e);
  if (!key) return undefined;
  const mods = [e.ctrlKey || e.metaKey ? 'Ctrl' : '', e.altKey ? 'Alt' : '', e.shiftKey ? 'Shift' : ''].filter(Boolean);
  return [...mods, key].join('+');
}

/** A chord as written in the registry, checked and put in canonical modifier order. */
export function normalizeChord(chord: string): string {
  const parts = chord.split('+').map((p) => p.trim()).filter(Boolean);
  const key = parts.pop();
  if (!key) throw new Error(`empty shortcut "${chord}"`);
  const ALIAS: Record<string, string> = { ctrl: 'Ctrl', control: 'Ctrl', cmd: 'Ctrl', meta: 'Ctrl', alt: 'Alt', shift: 'Shift' };
  const mods = new Set(parts.map((p) => ALIAS[p.toLowerCase()] ?? p));
  for (const m of mods) if (m !== 'Ctrl' && m !== 'Alt' && m !== 'Shift') throw new Error(`unknown modifier "${m}" in shortcut "${chord}"`);
  return [...['Ctrl', 'Alt', 'Shift'].filter((m) => mods.has(m)), key.length === 1 ? key.toUpperCase() : key].join('+');
}

/**
 * Which shortcuts may fire while the focus is in a text field or a terminal: only chords no
 * one types as text (with Ctrl, or a function key); Alt+letter is text in a terminal (Meta).
 */
export function firesWhileTyping(chord: string): boolean {
  return chord.startsWith('Ctrl+') || /(^|\+)F\d{1,2}$/.test(chord);
}

/** Every chord bound twice in one registry: a registry with any is a bug. */
export function duplicateChords(entries: readonly { id: string; shortcut?: readonly string[] }[]): string[] {
  const seen = new Map<string, string>();
  const dup: string[] = [];
  for (const e of entries) {
    for (const c of e.shortcut ?? []) {
      const n = normalizeChord(c);
      const had = seen.get(n);
      if (had && had !== e.id) dup.push(`${n}: ${had} and ${e.id}`);
      seen.set(n, e.id);
    }
  }
  return dup;
}
