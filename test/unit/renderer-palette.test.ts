import { describe, expect, it } from 'vitest';
import { fuzzyMatch, highlightRuns, keywordsHit, matchWords, moveSelection, rank, remember } from '../../renderer/src/stores/palette.logic.js';
import { chordOf, duplicateChords, firesWhileTyping, normalizeChord, type KeyLike } from '../../renderer/src/stores/shortcuts.logic.js';

const labels = (items: { item: { label: string } }[]) => items.map((r) => r.item.label);
const item = (label: string, keywords?: string) => ({ id: label, label, ...(keywords ? { keywords } : {}) });

describe('fuzzyMatch', () => {
  it('matches the query letters in order, ignoring case and spaces', () => {
    expect(fuzzyMatch('vcst', 'Virtual cluster: Start…')).toBeDefined();
    expect(fuzzyMatch('START VC', 'Virtual cluster: Start…')).toBeUndefined(); // order matters: no "v" after "start"
    expect(fuzzyMatch('go tasks', 'Go to: Tasks')).toBeDefined();
    expect(fuzzyMatch('xyz', 'Go to: Tasks')).toBeUndefined();
    expect(fuzzyMatch('tasks!', 'Go to: Tasks')).toBeUndefined();
  });

  it('matches everything with an empty query', () => {
    expect(fuzzyMatch('', 'anything')).toEqual({ score: 0, positions: [] });
    expect(fuzzyMatch('   ', 'anything')).toEqual({ score: 0, positions: [] });
  });

  it('reports where each letter matched, choosing word starts over the first occurrence', () => {
    // "st" could be the "st" inside "cluster"; the start of "Start" is the better alignment.
    const m = fuzzyMatch('start', 'Virtual cluster: Start…')!;
    expect(m.positions).toEqual([17, 18, 19, 20, 21]);
    const d = fuzzyMatch('dt', 'Theme: Dark theme')!;
    expect(d.positions).toEqual([7, 12]);
  });

  it('gives a run of consecutive letters more than the same letters scattered', () => {
    expect(fuzzyMatch('dark', 'Theme: Dark')!.score).toBeGreaterThan(fuzzyMatch('dark', 'Go to: Dashboard rack')!.score);
  });

  it('never matches a query longer than the text', () => {
    expect(fuzzyMatch('abcdef', 'abc')).toBeUndefined();
  });

  it('handles long texts and queries without blowing up', () => {
    const text = 'a'.repeat(2000) + 'b';
    const m = fuzzyMatch('a'.repeat(50) + 'b', text)!;
    expect(m.positions).toHaveLength(51);
    expect(m.positions.at(-1)).toBe(2000);
  });
});

describe('rank', () => {
  const items = [
    item('Virtual cluster: Restore…', 'vlx vc restore resume'),
    item('Virtual cluster: Start…', 'vlx vc start boot'),
    item('Virtual cluster: Stop…', 'vlx vc stop'),
    item('Go to: Tasks'),
    item('Task: Cancel a running task…'),
    item('Theme: Dark', 'night'),
    item('Theme: Light'),
  ];

  it('puts the best match first', () => {
    expect(labels(rank(items, 'vc start'))[0]).toBe('Virtual cluster: Start…');
    expect(labels(rank(items, 'vcsto'))[0]).toBe('Virtual cluster: Stop…');
    expect(labels(rank(items, 'dark'))[0]).toBe('Theme: Dark');
    expect(labels(rank(items, 'tasks'))[0]).toBe('Go to: Tasks');
  });

  it('leaves out what does not match', () => {
    expect(labels(rank(items, 'zz'))).toEqual([]);
    expect(labels(rank(items, 'light'))).toEqual(['Theme: Light']);
  });

  it('finds an item by its keywords, but ranks a label match of equal quality above it', () => {
    const r = rank(items, 'night');
    expect(labels(r)).toEqual(['Theme: Dark']);
    expect(r[0]!.positions).toEqual([]); // nothing in the label to highlight
    const both = rank([item('Boot log', ''), item('Virtual cluster: Start…', 'boot')], 'boot');
    expect(labels(both)[0]).toBe('Boot log');
  });

  it('without a query lists recently used first, then the registry order', () => {
    expect(labels(rank(items, '', ['Theme: Light', 'Go to: Tasks']))).toEqual([
      'Theme: Light', 'Go to: Tasks', 'Virtual cluster: Restore…', 'Virtual cluster: Start…', 'Virtual cluster: Stop…', 'Task: Cancel a running task…', 'Theme: Dark',
    ]);
  });

  it('lists a keyword-only match only when each typed word begins a keyword', () => {
    const r = rank([item('Task: Cancel a running task…', 'vlx task cancel stop abort'), item('Virtual cluster: Start…', 'vlx vc start boot')], 'vc start');
    // "vcstart" is a subsequence of the task's keywords too, but scattered: it must not be listed.
    expect(labels(r)).toEqual(['Virtual cluster: Start…']);
    expect(keywordsHit('vc sta', 'vlx vc start')).toBe(true);
    expect(keywordsHit('vcs', 'vlx vc start')).toBe(false);
    expect(keywordsHit('', 'vlx vc start')).toBe(false);
  });

  it('finds words typed in another order than the label has them, below an in-order match', () => {
    const r = rank([item('VM: Move to another node…', 'vlx vm move migrate'), item('Virtual cluster: Stop…')], 'move vm');
    expect(labels(r)).toEqual(['VM: Move to another node…']);
    expect(r[0]!.positions).toEqual([0, 1, 4, 5, 6, 7]);
    expect(matchWords('move vm', 'VM: Move')!.score).toBeLessThan(matchWords('vm move', 'VM: Move')!.score);
    expect(matchWords('vm vm', 'VM: Move')).toBeUndefined(); // one "vm" in the text cannot serve two words
  });

  it('breaks score ties by recent use', () => {
    const twins = [item('Lab: Crash a node'), item('Lab: Crash a nodf')];
    expect(labels(rank(twins, 'crash'))[0]).toBe('Lab: Crash a node');
    expect(labels(rank(twins, 'crash', ['Lab: Crash a nodf']))[0]).toBe('Lab: Crash a nodf');
  });
});

describe('palette helpers', () => {
  it('cuts a label into highlighted and plain runs', () => {
    expect(highlightRuns('Theme: Dark', [7, 8, 9, 10])).toEqual([{ text: 'Theme: ', hit: false }, { text: 'Dark', hit: true }]);
    expect(highlightRuns('abc', [])).toEqual([{ text: 'abc', hit: false }]);
    expect(highlightRuns('', [])).toEqual([]);
  });

  it('remembers recent use most recent first, without repeats, bounded', () => {
    expect(remember(['a', 'b', 'c'], 'b')).toEqual(['b', 'a', 'c']);
    expect(remember(['a', 'b'], 'c', 2)).toEqual(['c', 'a']);
  });

  it('moves the selection with wrapping arrows and clamped pages', () => {
    expect(moveSelection(0, 5, 'ArrowDown')).toBe(1);
    expect(moveSelection(4, 5, 'ArrowDown')).toBe(0);
    expect(moveSelection(0, 5, 'ArrowUp')).toBe(4);
    expect(moveSelection(1, 20, 'PageDown')).toBe(9);
    expect(moveSelection(18, 20, 'PageDown')).toBe(19);
    expect(moveSelection(3, 20, 'PageUp')).toBe(0);
    expect(moveSelection(3, 20, 'End')).toBe(19);
    expect(moveSelection(7, 0, 'ArrowDown')).toBe(0);
    expect(moveSelection(9, 4, 'x')).toBe(3); // the list shrank under the selection
  });
});

describe('shortcuts', () => {
  const key = (over: Partial<KeyLike>): KeyLike => ({ key: '', code: '', ctrlKey: false, shiftKey: false, altKey: false, metaKey: false, ...over });

  it('spells a key event the way the registry writes chords', () => {
    expect(chordOf(key({ key: 'P', code: 'KeyP', ctrlKey: true, shiftKey: true }))).toBe('Ctrl+Shift+P');
    expect(chordOf(key({ key: 'F1', code: 'F1' }))).toBe('F1');
    // Alt+1 on a layout where it types another character is still Alt+1.
    expect(chordOf(key({ key: '¡', code: 'Digit1', altKey: true }))).toBe('Alt+1');
    expect(chordOf(key({ key: 'p', code: 'KeyP', metaKey: true, shiftKey: true }))).toBe('Ctrl+Shift+P');
    expect(chordOf(key({ key: 'Shift', code: 'ShiftLeft', shiftKey: true }))).toBeUndefined();
    expect(chordOf(key({ key: ' ', code: 'Space', ctrlKey: true }))).toBe('Ctrl+Space');
  });

  it('normalises registry chords and refuses unknown modifiers', () => {
    expect(normalizeChord('Shift+Ctrl+p')).toBe('Ctrl+Shift+P');
    expect(normalizeChord('Cmd+K')).toBe('Ctrl+K');
    expect(() => normalizeChord('Hyper+K')).toThrow(/unknown modifier "Hyper"/);
    expect(() => normalizeChord('')).toThrow(/empty/);
  });

  it('lets only non-text chords fire while typing', () => {
    expect(firesWhileTyping('Ctrl+Shift+P')).toBe(true);
    expect(firesWhileTyping('F1')).toBe(true);
    expect(firesWhileTyping('Alt+1')).toBe(false);
    expect(firesWhileTyping('Alt+F')).toBe(false);
  });

  it('finds a chord bound to two actions', () => {
    expect(duplicateChords([{ id: 'a', shortcut: ['Ctrl+K'] }, { id: 'b', shortcut: ['ctrl+k'] }])).toEqual(['Ctrl+K: a and b']);
    expect(duplicateChords([{ id: 'a', shortcut: ['F1', 'Ctrl+K'] }, { id: 'b' }])).toEqual([]);
  });
});
