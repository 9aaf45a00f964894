/**
 * The tail of a console's output, replayed to a viewer that joins late so it does not
 * stare at an empty screen until the guest prints again. Bounded in UTF-16 units; a cut
 * never splits a surrogate pair and, when a line break is near, starts a line so the
 * replay does not begin in the middle of an escape sequence.
 */
export const DEFAULT_SCROLLBACK = 64 * 1024;
/** How far past the cut we look for a line start before settling for any character. */
const LINE_SEARCH = 1024;

export function keepTail(text: string, max: number): string {
  if (text.length <= max) return text;
  let cut = text.length - max;
  const nl = text.indexOf('\n', cut);
  if (nl !== -1 && nl - cut < LINE_SEARCH) {
    cut = nl + 1;
  } else {
    const unit = text.charCodeAt(cut);
    if (unit >= 0xdc00 && unit <= 0xdfff) cut++;
  }
  return text.slice(cut);
}

export class Scrollback {
  private text = '';

  constructor(readonly max: number = DEFAULT_SCROLLBACK) {}

  push(s: string): void {
    this.text += s;
    // Trim with some slack so a stream of small chunks does not copy 64 KiB each time.
    if (this.text.length > this.max + (this.max >> 2)) this.text = keepTail(this.text, this.max);
  }

  snapshot(): string {
    this.text = keepTail(this.text, this.max);
    return this.text;
  }

  clear(): void {
    this.text = '';
  }
}
