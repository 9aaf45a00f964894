/**
 * The console escape of telnet and `virsh console`: Ctrl-] then `q` detaches. A serial
 * console has no end of its own (the guest's shell exiting just prints a new login), so a
 * person needs a key the guest never sees. Ctrl-] twice sends one Ctrl-] to the guest;
 * Ctrl-] followed by anything else sends both, so nothing typed is lost.
 */
export const ESCAPE_BYTE = 0x1d;
export const ESCAPE_HELP = 'Ctrl-] then q';

export interface EscapeResult {
  /** Bytes for the remote side. */
  forward: Buffer;
  /** The escape was completed: stop reading and detach. */
  quit: boolean;
}

export class EscapeDetector {
  private pending = false;

  feed(chunk: Buffer): EscapeResult {
    const out: number[] = [];
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i];
      if (this.pending) {
        this.pending = false;
        if (b === 0x71 /* q */ || b === 0x51 /* Q */) return { forward: Buffer.from(out), quit: true };
        if (b === ESCAPE_BYTE) { out.push(ESCAPE_BYTE); continue; }
        out.push(ESCAPE_BYTE, b);
      } else if (b === ESCAPE_BYTE) {
        this.pending = true;
      } else {
        out.push(b);
      }
    }
    return { forward: Buffer.from(out), quit: false };
  }
}
