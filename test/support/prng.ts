/**
 * A small seeded generator (mulberry32) for property and fuzz tests: the same seed gives
 * the same cases on every run, so a failure found once can be repeated.
 */
export interface Prng {
  /** uniform in [0, 1) */
  next(): number;
  /** a whole number from lo to hi, both included */
  int(lo: number, hi: number): number;
  /** a whole number from 0 to n - 1 */
  below(n: number): number;
  pick<T>(xs: readonly T[]): T;
  /** lo to hi characters drawn from the alphabet */
  str(alphabet: string, lo: number, hi: number): string;
  bytes(n: number): Buffer<ArrayBuffer>;
}

export function prng(seed: number): Prng {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1));
  const below = (n: number) => Math.floor(next() * n);
  const pick = <T>(xs: readonly T[]): T => xs[below(xs.length)]!;
  const str = (alphabet: string, lo: number, hi: number) => Array.from({ length: int(lo, hi) }, () => pick([...alphabet])).join('');
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => below(256)));
  return { next, int, below, pick, str, bytes };
}
