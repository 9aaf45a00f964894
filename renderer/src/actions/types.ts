/** One thing the app can do, written once: the palette, the menu and the shortcuts all read it. */
export interface Action {
  /** stable id, used for "recently used" */
  id: string;
  /** grouping word shown before the title: "Virtual cluster: Start…" */
  category: string;
  title: string;
  /** chords as shown, e.g. ['Ctrl+Shift+P', 'F1'] (see shortcuts.logic.ts) */
  shortcut?: string[];
  /** other names it goes by, matched by the palette: the CLI command, synonyms */
  keywords?: string;
  /** Arguments asked for in order, each a list to choose from (a VC, a node, "yes"). */
  steps?: ActionStep[];
  run(picked: string[]): void | Promise<void>;
}

export interface ActionStep {
  /** what the palette's input says while this is asked, e.g. "Which virtual cluster?" */
  prompt: string;
  /** the choices, given what was picked in earlier steps; may load what it needs */
  choices(picked: string[]): Choice[] | Promise<Choice[]>;
  /** shown when there are no choices at all, e.g. "No virtual cluster is running" */
  none: string;
}

export interface Choice {
  id: string;
  label: string;
  /** a dim note after the label: an address, a state */
  detail?: string;
  /** why it cannot be chosen; shown instead of running */
  disabled?: string;
}

export const actionLabel = (a: Pick<Action, 'category' | 'title'>) => `${a.category}: ${a.title}`;

/** A confirmation as a last step: the first choice goes on, "Cancel" closes. */
export function confirmStep(prompt: string, yes: string): ActionStep {
  return { prompt, none: '', choices: () => [{ id: 'yes', label: yes }, { id: 'no', label: 'Cancel' }] };
}
export const confirmed = (picked: string[]) => picked[picked.length - 1] === 'yes';

/**
 * What a store holds after loading it afresh. Stores keep a failed load as an error to show;
 * here it is thrown, so the palette says why there is nothing to choose rather than "none".
 */
export async function fresh<T>(load: () => Promise<unknown>, get: () => T | undefined, error: () => { message: string } | undefined): Promise<T> {
  await load();
  const e = error();
  if (e) throw new Error(e.message);
  return get() as T;
}
