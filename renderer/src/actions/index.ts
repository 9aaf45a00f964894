import { usePalette } from '../stores/palette.js';
import { appActions } from './app.js';
import { clusterActions } from './cluster.js';
import { vcActions } from './vcs.js';
import { nodeActions } from './nodes.js';
import { healthActions } from './health.js';
import { installActions } from './install.js';
import { actionLabel, type Action } from './types.js';

/** Every action of the app, in the order the palette lists them when nothing is typed. */
export const ACTIONS: readonly Action[] = [...appActions, ...clusterActions, ...nodeActions, ...healthActions, ...vcActions, ...installActions];

const byId = new Map(ACTIONS.map((a) => [a.id, a]));

export function actionById(id: string): Action | undefined {
  return byId.get(id);
}

/**
 * Run an action, asking in the palette for what it still needs. `picked` are the arguments
 * chosen so far; the palette calls this again with one more each time.
 */
export async function runAction(id: string, picked: string[] = [], trail: string[] = []): Promise<void> {
  const a = byId.get(id);
  if (!a) return;
  const palette = usePalette.getState();
  const step = a.steps?.[picked.length];
  if (!step) {
    palette.hide();
    palette.used(id);
    await a.run(picked);
    return;
  }
  if (picked.length === 0) palette.used(id);
  const pending = { actionId: id, picked, trail: [actionLabel(a), ...trail], prompt: step.prompt, none: step.none };
  palette.ask(pending);
  try {
    const choices = await step.choices(picked);
    // Still the question on screen (not closed, not replaced by another)?
    if (usePalette.getState().pending?.actionId === id && usePalette.getState().pending?.picked === picked) {
      usePalette.setState({ pending: { ...pending, choices } });
    }
  } catch (e) {
    const message = e && typeof e === 'object' && 'message' in e ? String((e as { message: unknown }).message) : String(e);
    if (usePalette.getState().pending?.picked === picked) usePalette.setState({ pending: { ...pending, choices: [], error: message } });
  }
}

export { actionLabel };
