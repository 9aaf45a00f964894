import { useEffect, useMemo, useRef, type KeyboardEvent as RKeyboardEvent } from 'react';
import { usePalette } from '../stores/palette.js';
import { highlightRuns, moveSelection, rank, type Ranked } from '../stores/palette.logic.js';
import { ACTIONS, actionById, runAction, actionLabel } from '../actions/index.js';
import type { Choice } from '../actions/types.js';

interface Row { id: string; label: string; keywords?: string; detail?: string; shortcut?: string[]; disabled?: string }

/**
 * The command palette: every action by name, found by typing a few of its letters. An
 * action that needs an argument (which VC, which node) asks for it here, as a second list.
 */
export function Palette() {
  const { open, query, index, pending, notice, recent, setQuery, setIndex, hide } = usePalette();
  const input = useRef<HTMLInputElement>(null);
  const list = useRef<HTMLUListElement>(null);
  const restore = useRef<HTMLElement | null>(null);
  /** Enter pressed while the choices were still loading: run the best match once they are here. */
  const enterEarly = useRef(false);

  useEffect(() => {
    if (!open) return;
    restore.current ??= document.activeElement as HTMLElement | null;
    input.current?.focus();
    return undefined;
  }, [open, pending]);
  useEffect(() => {
    if (open) return;
    // Give the focus back to where it was (a terminal, a field), unless the action moved it.
    const back = restore.current;
    restore.current = null;
    if (back && document.activeElement === document.body && back.isConnected) back.focus();
  }, [open]);

  const rows: Ranked<Row>[] = useMemo(() => {
    if (!open) return [];
    if (pending) {
      const choices: Row[] = (pending.choices ?? []).map((c: Choice) => ({ id: c.id, label: c.label, ...(c.detail ? { detail: c.detail, keywords: c.detail } : {}), ...(c.disabled ? { disabled: c.disabled } : {}) }));
      return rank(choices, query);
    }
    const actions: Row[] = ACTIONS.map((a) => ({ id: a.id, label: actionLabel(a), ...(a.keywords ? { keywords: a.keywords } : {}), ...(a.shortcut ? { shortcut: a.shortcut } : {}) }));
    return rank(actions, query, recent);
  }, [open, pending, query, recent]);

  useEffect(() => {
    list.current?.querySelector<HTMLElement>('[aria-selected="true"]')?.scrollIntoView({ block: 'nearest' });
  }, [index, rows]);

  const choose = (row: Ranked<Row> | undefined) => {
    if (!row) return;
    if (row.item.disabled) { usePalette.setState({ notice: `${row.item.label}: ${row.item.disabled}` }); return; }
    if (pending) void runAction(pending.actionId, [...pending.picked, row.item.id], [...pending.trail.slice(1), row.item.label]);
    else void runAction(row.item.id);
  };

  const loading = !!pending && !pending.choices;
  useEffect(() => {
    if (!pending) enterEarly.current = false;
    if (!enterEarly.current || loading) return;
    enterEarly.current = false;
    choose(rows[index]);
  });

  if (!open) return null;

  const onKey = (e: RKeyboardEvent<HTMLInputElement>) => {
    // Keys handled here go no further: a dialog under the palette must not see this Escape.
    if (e.key === 'Escape') { e.preventDefault(); e.stopPropagation(); hide(); return; }
    if (e.key === 'Enter') { e.preventDefault(); e.stopPropagation(); if (loading) enterEarly.current = true; else choose(rows[index]); return; }
    if (['ArrowDown', 'ArrowUp', 'PageDown', 'PageUp'].includes(e.key)) {
      e.preventDefault(); e.stopPropagation();
      setIndex(moveSelection(index, rows.length, e.key));
      return;
    }
    // Backspace in an empty argument list goes back to the list of actions.
    if (e.key === 'Backspace' && pending && query === '') { e.preventDefault(); usePalette.getState().show(); }
  };

  const activeId = rows[index] ? `palette-row-${index}` : undefined;
  const action = pending ? actionById(pending.actionId) : undefined;
  return (
    <div className="palette-backdrop" onMouseDown={(e) => { if (e.target === e.currentTarget) hide(); }}>
      <div className="palette" role="dialog" aria-modal="true" aria-label="Command palette">
        {pending && (
          <div className="palette-trail" aria-label="chosen so far">
            {pending.trail.map((t, i) => <span key={i} className="palette-crumb">{t}</span>)}
          </div>
        )}
        <input
          ref={input}
          className="palette-input"
          value={query}
          onChange={(e) => setQuery(e.target.value)}
          onKeyDown={onKey}
          placeholder={pending ? pending.prompt : 'Type a command, e.g. “start vc” or “dark”'}
          role="combobox"
          aria-expanded="true"
          aria-controls="palette-list"
          aria-activedescendant={activeId}
          aria-autocomplete="list"
          aria-label={pending ? pending.prompt : 'Command'}
          spellCheck={false}
          autoComplete="off"
        />
        {notice && <div className="palette-notice" role="status">{notice}</div>}
        {pending?.error && <div className="palette-notice bad" role="alert">Could not list the choices: {pending.error}</div>}
        <ul className="palette-list" id="palette-list" role="listbox" ref={list} aria-label={pending ? pending.prompt : 'Commands'}>
          {pending && !pending.choices && <li className="palette-empty">Loading…</li>}
          {pending?.choices && pending.choices.length === 0 && !pending.error && <li className="palette-empty">{pending.none}</li>}
          {rows.length === 0 && (!pending || (pending.choices?.length ?? 0) > 0) && <li className="palette-empty">Nothing matches “{query}”</li>}
          {rows.map((r, i) => (
            <li
              key={r.item.id}
              id={`palette-row-${i}`}
              role="option"
              aria-selected={i === index}
              aria-disabled={r.item.disabled ? true : undefined}
              className={`palette-row${i === index ? ' active' : ''}${r.item.disabled ? ' disabled' : ''}`}
              onMouseMove={() => { if (i !== index) setIndex(i); }}
              onMouseDown={(e) => e.preventDefault()}
              onClick={() => choose(r)}
              data-action={pending ? undefined : r.item.id}
            >
              <span className="palette-label">{highlightRuns(r.item.label, r.positions).map((run, k) => (run.hit ? <mark key={k}>{run.text}</mark> : <span key={k}>{run.text}</span>))}</span>
              {r.item.detail && <span className="palette-detail">{r.item.detail}</span>}
              {r.item.disabled && <span className="palette-detail">{r.item.disabled}</span>}
              {!pending && !query && recent.includes(r.item.id) && recent.indexOf(r.item.id) < 5 && <span className="palette-recent">recently used</span>}
              {r.item.shortcut && <span className="palette-keys">{r.item.shortcut.map((s) => <kbd key={s}>{s}</kbd>)}</span>}
            </li>
          ))}
        </ul>
        <div className="palette-foot">
          <span><kbd>↑</kbd><kbd>↓</kbd> choose</span><span><kbd>Enter</kbd> run</span><span><kbd>Esc</kbd> close</span>
          {pending && <span><kbd>Backspace</kbd> back</span>}
          {action && <span className="muted">{action.steps!.length > 1 ? `step ${pending!.picked.length + 1} of ${action.steps!.length}` : ''}</span>}
        </div>
      </div>
    </div>
  );
}
