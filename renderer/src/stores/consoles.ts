import { create } from 'zustand';
import { Terminal } from '@xterm/xterm';
import { FitAddon } from '@xterm/addon-fit';
import { api, shown } from '../api.js';
import { useTheme } from './theme.js';
import { terminalColours } from './theme.logic.js';

export type ConsoleTarget = { kind: 'node'; node: string } | { kind: 'vm'; vc: string; vm: string };
export type ConsoleState = 'connecting' | 'open' | 'closed' | 'lost' | 'failed';

export interface ConsoleTab {
  id: string;
  title: string;
  target: ConsoleTarget;
  state: ConsoleState;
  /** the session on the main side; changes on reconnect */
  sessionId?: string;
  reason?: string;
}

/**
 * A terminal lives here, not in a React component: switching tabs or screens must not lose
 * its scrollback, and bytes keep arriving while its tab is hidden. Components only lend it
 * a DOM element to draw into.
 */
interface Live { term: Terminal; fit: FitAddon; host: HTMLDivElement }
const live = new Map<string, Live>();
const bySession = new Map<string, string>();
let tabSeq = 0;

interface ConsolesStore {
  tabs: ConsoleTab[];
  active?: string;
  open(target: ConsoleTarget): Promise<void>;
  activate(id: string): void;
  close(id: string): Promise<void>;
  reconnect(id: string): Promise<void>;
  patch(id: string, p: Partial<ConsoleTab>): void;
}

const titleOf = (t: ConsoleTarget) => (t.kind === 'node' ? `${t.node} shell` : `${t.vc}/${t.vm} console`);

export const useConsoles = create<ConsolesStore>()((set, get) => ({
  tabs: [],
  async open(target) {
    const existing = get().tabs.find((t) => JSON.stringify(t.target) === JSON.stringify(target) && t.state === 'open');
    if (existing) { set({ active: existing.id }); return; }
    const id = `tab${++tabSeq}`;
    set((s) => ({ tabs: [...s.tabs, { id, title: titleOf(target), target, state: 'connecting' }], active: id }));
    ensureTerminal(id);
    await connect(id);
  },
  activate: (id) => set({ active: id }),
  async close(id) {
    const tab = get().tabs.find((t) => t.id === id);
    if (tab?.sessionId && tab.state === 'open') await api().call('terminal.close', { sessionId: tab.sessionId }).catch(() => undefined);
    if (tab?.sessionId) bySession.delete(tab.sessionId);
    const l = live.get(id);
    l?.term.dispose();
    l?.host.remove();
    live.delete(id);
    set((s) => {
      const tabs = s.tabs.filter((t) => t.id !== id);
      return { tabs, active: s.active === id ? tabs[tabs.length - 1]?.id : s.active };
    });
  },
  async reconnect(id) {
    live.get(id)?.term.write('\r\n\x1b[2m[reconnecting…]\x1b[0m\r\n');
    const tab = get().tabs.find((t) => t.id === id);
    // The same session resumes where the main side still knows it; otherwise a new one opens.
    if (tab?.sessionId) {
      get().patch(id, { state: 'connecting', reason: undefined });
      try {
        await api().call('terminal.reconnect', { sessionId: tab.sessionId });
        get().patch(id, { state: 'open' });
        live.get(id)?.term.focus();
        return;
      } catch (e) {
        if (shown(e).code !== 'not-found') {
          live.get(id)?.term.write(`\r\n\x1b[31m[could not reconnect: ${shown(e).message}]\x1b[0m\r\n`);
          get().patch(id, { state: 'failed', reason: shown(e).message });
          return;
        }
      }
    }
    await connect(id);
  },
  patch: (id, p) => set((s) => ({ tabs: s.tabs.map((t) => (t.id === id ? { ...t, ...p } : t)) })),
}));

function ensureTerminal(id: string): Live {
  let l = live.get(id);
  if (l) return l;
  const term = new Terminal({
    fontFamily: '"DejaVu Sans Mono", "Liberation Mono", monospace',
    fontSize: 13,
    cursorBlink: true,
    scrollback: 5000,
    theme: { ...terminalColours(useTheme.getState().theme) },
  });
  const fit = new FitAddon();
  term.loadAddon(fit);
  const host = document.createElement('div');
  host.className = 'term-host';
  term.onData((data) => {
    const tab = useConsoles.getState().tabs.find((t) => t.id === id);
    if (tab?.sessionId && tab.state === 'open') void api().call('terminal.write', { sessionId: tab.sessionId, data }).catch(() => undefined);
  });
  // Resize is a control message to the PTY (or ignored by a serial console, which has none).
  term.onResize(({ rows, cols }) => {
    const tab = useConsoles.getState().tabs.find((t) => t.id === id);
    if (tab?.sessionId && tab.state === 'open') void api().call('terminal.resize', { sessionId: tab.sessionId, rows, cols }).catch(() => undefined);
  });
  // Ctrl+Shift+C / V copy and paste, as in desktop terminals; plain Ctrl+C stays an interrupt.
  term.attachCustomKeyEventHandler((ev) => {
    if (ev.type !== 'keydown' || !ev.ctrlKey || !ev.shiftKey) return true;
    if (ev.code === 'KeyC') { void navigator.clipboard?.writeText(term.getSelection()); return false; }
    if (ev.code === 'KeyV') { void navigator.clipboard?.readText().then((t) => term.paste(t)); return false; }
    return true;
  });
  l = { term, fit, host };
  live.set(id, l);
  return l;
}

async function connect(id: string): Promise<void> {
  const tab = useConsoles.getState().tabs.find((t) => t.id === id);
  if (!tab) return;
  const l = ensureTerminal(id);
  const { rows, cols } = l.term;
  useConsoles.getState().patch(id, { state: 'connecting', reason: undefined });
  try {
    const r = tab.target.kind === 'node'
      ? await api().call('terminal.openNodeShell', { node: tab.target.node, rows, cols })
      : await api().call('terminal.openVmConsole', { vc: tab.target.vc, vm: tab.target.vm, rows, cols });
    if (tab.sessionId) bySession.delete(tab.sessionId);
    bySession.set(r.sessionId, id);
    useConsoles.getState().patch(id, { state: 'open', sessionId: r.sessionId, title: r.title });
    if (tab.target.kind === 'vm') l.term.write('\x1b[2m[serial console: press Enter for a prompt]\x1b[0m\r\n');
    l.term.focus();
  } catch (e) {
    const err = shown(e);
    l.term.write(`\r\n\x1b[31m[could not connect: ${err.message}]\x1b[0m\r\n`);
    useConsoles.getState().patch(id, { state: 'failed', reason: err.message });
  }
}

// Terminals draw on a canvas and cannot read the page's CSS: give every open one the new colours.
useTheme.subscribe((s, prev) => {
  if (s.theme === prev.theme) return;
  for (const l of live.values()) l.term.options.theme = { ...terminalColours(s.theme) };
});

/** Lend the terminal a place in the page; called by the Consoles screen when a tab is shown. */
export function mountTerminal(id: string, parent: HTMLElement): () => void {
  const l = ensureTerminal(id);
  if (l.host.parentElement !== parent) parent.appendChild(l.host);
  if (!l.term.element) l.term.open(l.host);
  const fit = () => { try { l.fit.fit(); } catch { /* not laid out yet */ } };
  fit();
  const ro = new ResizeObserver(fit);
  ro.observe(parent);
  l.term.focus();
  return () => ro.disconnect();
}

/** For tests and the benchmark: what a terminal shows, line by line. */
export function terminalText(id: string): string {
  const l = live.get(id);
  if (!l) return '';
  const b = l.term.buffer.active;
  const lines: string[] = [];
  for (let i = 0; i < b.length; i++) lines.push(b.getLine(i)?.translateToString(true) ?? '');
  return lines.join('\n');
}

/**
 * Flow control: output is acknowledged once xterm has drawn it (its write callback), in
 * batches, so the main side reads the node's output only as fast as this page draws it.
 */
const drawn = new Map<string, number>();
let ackTimer: ReturnType<typeof setTimeout> | undefined;
const ACK_EVERY = 16 * 1024;
function acknowledge(sessionId: string, chars: number): void {
  const n = (drawn.get(sessionId) ?? 0) + chars;
  drawn.set(sessionId, n);
  if (n >= ACK_EVERY) flushAcks();
  else ackTimer ??= setTimeout(flushAcks, 20);
}
function flushAcks(): void {
  if (ackTimer) clearTimeout(ackTimer);
  ackTimer = undefined;
  for (const [sessionId, chars] of drawn) if (chars > 0) void api().call('terminal.ack', { sessionId, chars }).catch(() => undefined);
  drawn.clear();
}

export function followTerminalEvents(): () => void {
  const offData = api().on('terminal.data', ({ sessionId, data }) => {
    const id = bySession.get(sessionId);
    const term = id ? live.get(id)?.term : undefined;
    // A console this page did not open (a CLI attached to the same app) is that face's to acknowledge.
    if (!term) return;
    term.write(data, () => acknowledge(sessionId, data.length));
  });
  const offExit = api().on('terminal.exit', ({ sessionId, reason, lost }) => {
    const id = bySession.get(sessionId);
    if (!id) return;
    live.get(id)?.term.write(`\r\n\x1b[33m[${reason}]\x1b[0m\r\n`);
    useConsoles.getState().patch(id, { state: lost ? 'lost' : 'closed', reason });
  });
  return () => { offData(); offExit(); };
}
