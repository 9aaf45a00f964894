/**
 * Fuzzy matching for the command palette: the query's letters must appear in the text in
 * order (a subsequence), and the best alignment wins. An alignment scores for letters that
 * start a word and for runs of consecutive letters, and loses for gaps, so "vcst" ranks
 * "Virtual cluster: Start" above "Virtual cluster: Restore".
 */

export interface FuzzyMatch {
  score: number;
  /** indexes into the text of the matched letters, for highlighting */
  positions: number[];
}

const SCORE_MATCH = 16;
const BONUS_FIRST = 10; // the very first letter of the text
const BONUS_WORD = 8; // first letter of a word
const BONUS_CAMEL = 6; // a capital after a lower-case letter
const BONUS_RUN = 6; // follows the previous matched letter directly
const GAP = 1; // per skipped letter between two matches
const LEAD = 0.25; // per letter skipped before the first match

const SEPARATORS = new Set([' ', '-', '_', '/', '.', ':', '(', '…', ',']);

function boundaryBonus(text: string, j: number): number {
  if (j === 0) return BONUS_FIRST;
  const prev = text[j - 1]!;
  if (SEPARATORS.has(prev)) return BONUS_WORD;
  const c = text[j]!;
  if (prev.toLowerCase() === prev && prev.toUpperCase() !== prev && c.toUpperCase() === c && c.toLowerCase() !== c) return BONUS_CAMEL;
  return 0;
}

/**
 * The best subsequence alignment of `query` in `text` (case-insensitive, spaces in the query
 * ignored), or undefined when the letters do not all appear in order. An empty query matches
 * everything with score 0.
 */
export function fuzzyMatch(query: string, text: string): FuzzyMatch | undefined {
  const q = query.toLowerCase().replace(/\s+/g, '');
  if (q.length === 0) return { score: 0, positions: [] };
  const t = text.toLowerCase();
  const m = q.length;
  const n = t.length;
  if (m > n) return undefined;
  // best[i][j]: the best score with q[i] matched at t[j]; from[i][j]: where q[i-1] was matched.
  const NONE = -Infinity;
  const best: Float64Array[] = [];
  const from: Int32Array[] = [];
  for (let i = 0; i < m; i++) {
    const row = new Float64Array(n).fill(NONE);
    const back = new Int32Array(n).fill(-1);
    const prev = best[i - 1];
    // The best earlier match of q[i-1] seen so far, counted with its gap penalty to j.
    let runMax = NONE;
    let runAt = -1;
    for (let j = 0; j < n; j++) {
      if (i > 0 && j >= 2) {
        const k = j - 2; // k = j-1 is the consecutive case, handled apart
        const v = prev![k]! + GAP * k;
        if (v > runMax) { runMax = v; runAt = k; }
      }
      if (t[j] !== q[i]) continue;
      const here = SCORE_MATCH + boundaryBonus(text, j);
      if (i === 0) { row[j] = here - LEAD * j; continue; }
      let score = NONE;
      let at = -1;
      if (runAt >= 0) { score = runMax - GAP * (j - 1) + here; at = runAt; }
      const adj = j > 0 ? prev![j - 1]! : NONE;
      if (adj > NONE && adj + here + BONUS_RUN >= score) { score = adj + here + BONUS_RUN; at = j - 1; }
      if (at >= 0) { row[j] = score; back[j] = at; }
    }
    best.push(row);
    from.push(back);
  }
  let end = -1;
  let top = NONE;
  const last = best[m - 1]!;
  for (let j = 0; j < n; j++) if (last[j]! > top) { top = last[j]!; end = j; }
  if (end < 0) return undefined;
  const positions = new Array<number>(m);
  for (let i = m - 1, j = end; i >= 0; i--) { positions[i] = j; j = from[i]![j]!; }
  // A whole-word prefix of the text ("start" for "Start…") beats a scattered match of the same letters.
  const prefix = t.startsWith(q) ? SCORE_MATCH : 0;
  return { score: top + prefix, positions };
}

/** Words typed in another order than the text has them ("move vm" for "VM: Move…") cost this much. */
const OUT_OF_ORDER = 24;

/**
 * The query as a whole, or else each of its words on its own, in any order: every word must
 * match, and the words' letters may not overlap.
 */
export function matchWords(query: string, text: string): FuzzyMatch | undefined {
  const whole = fuzzyMatch(query, text);
  if (whole) return whole;
  const words = query.trim().split(/\s+/).filter(Boolean);
  if (words.length < 2) return undefined;
  let score = -OUT_OF_ORDER;
  const taken = new Set<number>();
  for (const w of words) {
    const m = fuzzyMatch(w, text);
    if (!m || m.positions.some((p) => taken.has(p))) return undefined;
    score += m.score;
    for (const p of m.positions) taken.add(p);
  }
  return { score, positions: [...taken].sort((a, b) => a - b) };
}

export interface Rankable {
  id: string;
  /** what is shown and highlighted */
  label: string;
  /** matched too, at a discount: other names the same thing goes by (the CLI command, synonyms) */
  keywords?: string;
}

export interface Ranked<T> {
  item: T;
  score: number;
  /** positions in the label; empty when only the keywords matched */
  positions: number[];
}

/** Keywords count, but a match in the label itself wins a tie. */
const KEYWORD_DISCOUNT = 0.8;

/**
 * Keywords are not shown, so a scattered match in them would list items for no visible
 * reason: there, each word typed must begin a keyword ("vc start" finds "vlx vc start").
 */
export function keywordsHit(query: string, keywords: string): boolean {
  const words = keywords.toLowerCase().split(/[\s/.:-]+/).filter(Boolean);
  const typed = query.toLowerCase().split(/\s+/).filter(Boolean);
  return typed.length > 0 && typed.every((t) => words.some((w) => w.startsWith(t)));
}

/**
 * Items matching `query`, best first. Without a query: recently used first (most recent
 * first), then the registry's own order. Equal scores keep recent-then-registry order too.
 */
export function rank<T extends Rankable>(items: readonly T[], query: string, recent: readonly string[] = []): Ranked<T>[] {
  const recency = new Map(recent.map((id, i) => [id, i]));
  const order = (a: { item: T; index: number }, b: { item: T; index: number }) => {
    const ra = recency.get(a.item.id) ?? Infinity;
    const rb = recency.get(b.item.id) ?? Infinity;
    return ra !== rb ? ra - rb : a.index - b.index;
  };
  const scored: { item: T; index: number; score: number; positions: number[] }[] = [];
  items.forEach((item, index) => {
    const inLabel = matchWords(query, item.label);
    const inKeywords = item.keywords && keywordsHit(query, item.keywords) ? matchWords(query, item.keywords) : undefined;
    const kw = inKeywords ? inKeywords.score * KEYWORD_DISCOUNT : -Infinity;
    if (inLabel && inLabel.score >= kw) scored.push({ item, index, score: inLabel.score, positions: inLabel.positions });
    else if (inKeywords) scored.push({ item, index, score: kw, positions: [] });
  });
  scored.sort((a, b) => (b.score !== a.score ? b.score - a.score : order(a, b)));
  return scored.map(({ item, score, positions }) => ({ item, score, positions }));
}

/** The label cut into runs of matched and unmatched letters, for drawing the highlight. */
export function highlightRuns(label: string, positions: readonly number[]): { text: string; hit: boolean }[] {
  const hits = new Set(positions);
  const runs: { text: string; hit: boolean }[] = [];
  for (let i = 0; i < label.length; i++) {
    const hit = hits.has(i);
    const last = runs[runs.length - 1];
    if (last && last.hit === hit) last.text += label[i];
    else runs.push({ text: label[i]!, hit });
  }
  return runs;
}

/** Most recent first, without repeats, at most `max` long. */
export function remember(recent: readonly string[], id: string, max = 12): string[] {
  return [id, ...recent.filter((x) => x !== id)].slice(0, max);
}

/** The next highlighted row for an arrow, Page or Home/End key, wrapping at the ends for arrows. */
export function moveSelection(index: number, count: number, key: string, page = 8): number {
  if (count === 0) return 0;
  switch (key) {
    case 'ArrowDown': return (index + 1) % count;
    case 'ArrowUp': return (index - 1 + count) % count;
    case 'PageDown': return Math.min(count - 1, index + page);
    case 'PageUp': return Math.max(0, index - page);
    case 'Home': return 0;
    case 'End': return count - 1;
    default: return Math.min(Math.max(0, index), count - 1);
  }
}
