import { usePalette } from '../stores/palette.js';
import { chordOf, firesWhileTyping, normalizeChord } from '../stores/shortcuts.logic.js';
import { ACTIONS, runAction } from './index.js';

const byChord = new Map<string, string>();
for (const a of ACTIONS) for (const c of a.shortcut ?? []) byChord.set(normalizeChord(c), a.id);

function typing(target: EventTarget | null): boolean {
  const el = target as HTMLElement | null;
  if (!el || !el.tagName) return false;
  // xterm.js takes keys through a hidden textarea: a terminal counts as typing.
  return el.tagName === 'INPUT' || el.tagName === 'TEXTAREA' || el.tagName === 'SELECT' || el.isContentEditable;
}

/**
 * The registry's shortcuts, for the whole window. Listens in the capture phase so a
 * terminal, which swallows the keys it handles, still lets Ctrl+Shift+P through.
 */
export function listenForShortcuts(): () => void {
  const onKey = (e: KeyboardEvent) => {
    if (e.defaultPrevented || e.isComposing) return;
    const chord = chordOf(e);
    if (!chord) return;
    const id = byChord.get(chord);
    if (!id) return;
    const paletteOpen = usePalette.getState().open;
    // While the palette is open only its own chords act (they open it afresh); other keys are its typing.
    if (paletteOpen && id !== 'palette.show') return;
    if (!paletteOpen && typing(e.target) && !firesWhileTyping(chord)) return;
    e.preventDefault();
    e.stopPropagation();
    void runAction(id);
  };
  window.addEventListener('keydown', onKey, true);
  return () => window.removeEventListener('keydown', onKey, true);
}
