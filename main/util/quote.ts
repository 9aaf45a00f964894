/**
 * The one quoting function every remote command goes through. POSIX single quotes: the
 * only character that needs care inside them is the single quote itself.
 */
const SAFE = /^[A-Za-z0-9_\-+=.,:/@%^]+$/;

export function quote(arg: string | number): string {
  const s = String(arg);
  if (s.length > 0 && SAFE.test(s)) return s;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** Build a shell command line from argv pieces. */
export function sh(...argv: (string | number)[]): string {
  return argv.map(quote).join(' ');
}
