import type { Command } from 'commander';
import { spawnSync } from 'node:child_process';
import { StringDecoder } from 'node:string_decoder';
import { checkInt } from '../util/names.js';
import type { TerminalExit, TermSize } from '../consoles/terminals.js';
import { isVmTarget, parseConsoleTarget, targetTitle, type ConsoleTarget } from '../consoles/target.js';
import { EscapeDetector, ESCAPE_HELP } from '../consoles/escape.js';
import { EXIT, action } from './output.js';
import { call, cli } from './client.js';

/** Under the contract's limit for one terminal.write. */
const WRITE_CHUNK = 256 * 1024;

/** What the CLI exits with when a console ends: the shell's own status when it has one. */
export function consoleExitCode(exit: TerminalExit): number {
  if (exit.code !== undefined) return exit.code;
  if (exit.lost) return EXIT.unreachable;
  return exit.reason.startsWith('killed by signal') ? 1 : 0;
}

function windowSize(): TermSize {
  const out = process.stdout;
  if (!out.isTTY || !out.rows || !out.columns) return { rows: 24, cols: 80 };
  return { rows: Math.min(500, Math.max(2, out.rows)), cols: Math.min(1000, Math.max(10, out.columns)) };
}

async function runConsole(targetText: string, o: { quietMs: string }): Promise<number> {
  const target = parseConsoleTarget(targetText);
  const quietMs = checkInt(o.quietMs, '--quiet-ms', 0, 600_000);
  return attach(target, quietMs);
}

/**
 * Attach this terminal to a node's shell or a VM's serial console, through the contract's
 * terminal channels like the GUI. With a TTY: raw mode, the window size follows the terminal's, and
 * the terminal is restored however it ends. Without one (pipe mode, for scripts): input is
 * sent as it comes; once it has ended and the remote side has been quiet for --quiet-ms, a
 * node shell gets Ctrl-D and a serial console is left.
 */
async function attach(target: ConsoleTarget, quietMs: number): Promise<number> {
  const client = await cli();
  const stdin = process.stdin;
  const tty = Boolean(stdin.isTTY);
  let id: string | undefined;
  let open = false;
  let rawSet = false;
  let quietTimer: NodeJS.Timeout | undefined;
  let inputEnded = false;
  const cleanups: (() => void)[] = [];
  // Input goes out in order: each write waits for the one before it.
  // Writes and resizes go in the order they happened: a line typed after a resize must reach
  // the shell after it (`stty size` then sees the new size). A failed call (the session just
  // ended) does not stop the ones after it; the exit event says what happened.
  let sending: Promise<unknown> = Promise.resolve();
  const inOrder = (call: () => Promise<unknown>) => { sending = sending.then(call).catch(() => undefined); };
  const send = (data: string) => {
    const tid = id;
    if (!tid || !open || data === '') return;
    for (let i = 0; i < data.length; i += WRITE_CHUNK) {
      const part = data.slice(i, i + WRITE_CHUNK);
      inOrder(() => client.invoke('terminal.write', { sessionId: tid, data: part }));
    }
  };
  const closeIt = () => { if (id && open) void client.invoke('terminal.close', { sessionId: id }); };

  let endedWith!: (e: TerminalExit) => void;
  const ended = new Promise<TerminalExit>((resolve) => { endedWith = resolve; });
  cleanups.push(client.on('terminal.exit', (e) => {
    if (e.sessionId !== id) return;
    open = false;
    endedWith({ reason: e.reason, lost: e.lost, ...(e.code !== undefined ? { code: e.code } : {}) });
  }));
  // Without a TTY, the end of input is only acted on once the remote side has gone quiet:
  // a Ctrl-D typed into a PTY before the shell reads it is lost, and a serial line has no
  // end of its own. A node shell gets Ctrl-D (again after each quiet spell, as a person
  // would press it until the shell exits); a serial console is left.
  const armQuiet = () => {
    if (!inputEnded || !id) return;
    clearTimeout(quietTimer);
    quietTimer = setTimeout(() => {
      if (!open) return;
      if (isVmTarget(target)) closeIt();
      else {
        send('\x04');
        armQuiet();
      }
    }, quietMs);
  };
  // Flow control: output is acknowledged once the terminal has taken it (stdout's write
  // callback), in batches, so a flood is read from the node only as fast as it is shown.
  let written = 0;
  const ack = () => {
    if (written > 0 && id && open) void client.invoke('terminal.ack', { sessionId: id, chars: written });
    written = 0;
  };
  cleanups.push(client.on('terminal.data', (e) => {
    if (e.sessionId !== id) return;
    const n = e.data.length;
    process.stdout.write(e.data, () => {
      written += n;
      if (written >= 16 * 1024) ack();
      else setImmediate(ack);
    });
    armQuiet();
  }));

  try {
    const size = windowSize();
    const opened = isVmTarget(target)
      ? await call('terminal.openVmConsole', { vc: target.vc, vm: target.vm, ...size })
      : await call('terminal.openNodeShell', { node: target.node, ...size });
    id = opened.sessionId;
    open = true;
    const where = isVmTarget(target) ? `the serial console of ${targetTitle(target)} on node ${opened.node ?? '?'}` : `a shell on node ${target.node}`;
    process.stderr.write(`Connected to ${where}. Escape: ${ESCAPE_HELP}.\r\n`);

    const escape = new EscapeDetector();
    const text = new StringDecoder('utf8');
    let lastByte = 0x0a;
    const onInput = (chunk: Buffer) => {
      const { forward, quit } = escape.feed(chunk);
      if (forward.length > 0) {
        lastByte = forward[forward.length - 1]!;
        send(text.write(Buffer.from(forward)));
      }
      if (quit) closeIt();
    };
    const onEnd = () => {
      inputEnded = true;
      if (!open) return;
      // An unfinished last line still runs, as it would at a prompt.
      if (!isVmTarget(target) && lastByte !== 0x0a && lastByte !== 0x0d) send('\r');
      armQuiet();
    };
    if (tty) {
      stdin.setRawMode(true);
      rawSet = true;
      // libuv's raw mode keeps output post-processing (\n → \r\n), which breaks full-screen
      // programs on the node; the remote PTY already does that. setRawMode(false) restores it.
      spawnSync('stty', ['-opost'], { stdio: ['inherit', 'ignore', 'ignore'] });
    }
    stdin.on('data', onInput);
    stdin.on('end', onEnd);
    stdin.resume();
    cleanups.push(() => {
      stdin.off('data', onInput);
      stdin.off('end', onEnd);
    });

    const onWinch = () => {
      const s = windowSize();
      const tid = id;
      if (open && tid) inOrder(() => client.invoke('terminal.resize', { sessionId: tid, ...s }));
    };
    // stdout's 'resize' comes after Node has read the new size (a SIGWINCH handler of our own
    // could run first and send the old one).
    process.stdout.on('resize', onWinch);
    cleanups.push(() => process.stdout.off('resize', onWinch));
    // Killed from outside: still give the terminal back in a usable state.
    for (const sig of ['SIGTERM', 'SIGHUP'] as const) {
      process.on(sig, closeIt);
      cleanups.push(() => process.off(sig, closeIt));
    }

    const exit = await ended;
    clearTimeout(quietTimer);
    if (rawSet) stdin.setRawMode(false);
    rawSet = false;
    process.stderr.write(`\r\n[${targetTitle(target)}: ${exit.reason}]\r\n`);
    return consoleExitCode(exit);
  } finally {
    clearTimeout(quietTimer);
    if (rawSet) stdin.setRawMode(false);
    for (const c of cleanups) c();
    stdin.pause();
    // A TTY stdin keeps the event loop alive after pause; nothing reads it any more.
    if (tty) stdin.destroy();
  }
}

export function registerConsole(program: Command): void {
  program
    .command('console')
    .description(`a shell on a node (NODE) or a VM's serial console (VC/VM); ${ESCAPE_HELP} leaves`)
    .argument('<target>', 'NODE, or VC/VM')
    .option('--quiet-ms <ms>', 'without a TTY: once input has ended and output has been quiet this long, send Ctrl-D to a node shell or leave a serial console', '1000')
    .action(action(async (target: string, o: { quietMs: string }) => runConsole(target, o), { node: 'NODE', vc: 'VC/VM', vm: 'VC/VM' }));
}
