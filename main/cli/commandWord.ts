/** Global options that take a value, so their value is not mistaken for the command word. */
const VALUED_GLOBALS = new Set(['--cluster']);

/** The command a `vlx` argument list names, skipping global options. */
export function commandWord(args: string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--') return undefined;
    if (VALUED_GLOBALS.has(a)) { i++; continue; }
    if (a.startsWith('-')) continue;
    return a;
  }
  return undefined;
}

