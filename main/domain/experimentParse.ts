import { VlxError } from '../errors.js';

/**
 * Readers of the probe tools' text output (sysbench 1.0, iperf3 3.x, busybox ping), the
 * same on the node and in the bench guest. Text rather than JSON: the guest's output comes
 * through its serial console, where short summary lines survive best. Each reader throws a
 * 'remote-failed' error quoting the tail of the output when the number it needs is missing,
 * so a tool that failed in the guest is never stored as a zero.
 */

export function missing(what: string, text: string): VlxError {
  const tail = text.trim().split('\n').slice(-4).join(' | ').slice(0, 300);
  return new VlxError('remote-failed', `${what} not found in the probe's output (it ended with: ${JSON.stringify(tail)})`);
}

function num(re: RegExp, text: string, what: string): number {
  const m = text.match(re);
  const v = m ? Number(m[1]) : NaN;
  if (!Number.isFinite(v)) throw missing(what, text);
  return v;
}

/** sysbench's "General statistics": total time (s) and total number of events. */
export function sysbenchTotals(text: string): { seconds: number; events: number } {
  return {
    seconds: num(/total time:\s+([\d.]+)s/, text, 'sysbench total time'),
    events: num(/total number of events:\s+(\d+)/, text, 'sysbench total number of events'),
  };
}

/** Events per second over the run (cpu, threads, a Lua probe): events / total time. */
export function sysbenchRate(text: string): number {
  const t = sysbenchTotals(text);
  if (t.seconds <= 0) throw missing('a positive sysbench total time', text);
  return t.events / t.seconds;
}

/** sysbench memory: "5463.38 MiB transferred (5212.37 MiB/sec)". */
export function sysbenchMemory(text: string): number {
  return num(/MiB transferred \(([\d.]+) MiB\/sec\)/, text, 'sysbench memory MiB/sec');
}

/** sysbench fileio: the read or written MiB/s of the mode that ran (whichever is non-zero). */
export function sysbenchFileio(text: string): number {
  const read = num(/read, MiB\/s:\s+([\d.]+)/, text, 'sysbench fileio read MiB/s');
  const written = num(/written, MiB\/s:\s+([\d.]+)/, text, 'sysbench fileio written MiB/s');
  return Math.max(read, written);
}

/** iperf3 client: the receiver's bitrate of the summary, in Mbit/s (run with -f m). */
export function iperf3Receiver(text: string): number {
  const m = text.match(/sec\s+[\d.]+\s+\w?Bytes\s+([\d.]+)\s+([KMG]?)bits\/sec\s+receiver/);
  if (!m) throw missing('iperf3 receiver bitrate', text);
  const scale = { '': 1e-6, K: 1e-3, M: 1, G: 1e3 }[m[2] as '' | 'K' | 'M' | 'G'];
  return Number(m[1]) * scale;
}

/** ping (busybox "round-trip min/avg/max = a/b/c ms", iputils "rtt min/avg/max/mdev = …"): the average RTT in ms. */
export function pingAverage(text: string): number {
  return num(/(?:round-trip|rtt) min\/avg\/max(?:\/mdev)? = [\d.]+\/([\d.]+)\//, text, 'ping average round-trip time');
}

export type MpiLine =
  | { kind: 'pingpong'; pair: string; size: number; reps: number; usec: number; mbps: number }
  | { kind: 'allreduce'; ranks: number; size: number; reps: number; usec: number };

/**
 * mpibench's lines (images/bench/mpibench.c), "vlx-mpi pingpong PAIR SIZE REPS USEC MB/S" and
 * "vlx-mpi allreduce RANKS SIZE REPS USEC", up to its "vlx-mpi done RANKS". Without that last
 * line the run failed (mpirun's own messages are in the quoted output).
 */
export function mpibenchLines(text: string): MpiLine[] {
  const lines = text.replace(/\r/g, '').split('\n');
  if (!lines.some((l) => /^vlx-mpi done \d+\s*$/.test(l))) throw missing('mpibench\'s "vlx-mpi done" line', text);
  const out: MpiLine[] = [];
  const n = (s: string | undefined): number => (s !== undefined && /^[\d.e+-]+$/.test(s) ? Number(s) : NaN);
  for (const line of lines) {
    const w = line.trim().split(/\s+/);
    if (w[0] !== 'vlx-mpi' || w[1] === 'done') continue;
    const v: MpiLine | undefined = w[1] === 'pingpong' && w.length === 7
      ? { kind: 'pingpong', pair: w[2]!, size: n(w[3]), reps: n(w[4]), usec: n(w[5]), mbps: n(w[6]) }
      : w[1] === 'allreduce' && w.length === 6
        ? { kind: 'allreduce', ranks: n(w[2]), size: n(w[3]), reps: n(w[4]), usec: n(w[5]) }
        : undefined;
    if (!v || !Object.values(v).every((x) => typeof x === 'string' || (Number.isFinite(x) && x >= 0))) throw missing(`a well-formed mpibench line (got ${JSON.stringify(line.trim().slice(0, 120))})`, text);
    out.push(v);
  }
  return out;
}

/**
 * Split a probe script's output into its sections: each section starts with a line
 * "== NAME" (written by the scripts of experimentProbes.ts) and runs to the next one.
 */
export function sections(text: string): Map<string, string> {
  const out = new Map<string, string>();
  let name: string | undefined;
  let lines: string[] = [];
  const flush = (): void => { if (name !== undefined) out.set(name, lines.join('\n')); };
  for (const line of text.replace(/\r/g, '').split('\n')) {
    const m = line.match(/^== ([\w.:-]+)\s*$/);
    if (m) { flush(); name = m[1]; lines = []; } else lines.push(line);
  }
  flush();
  return out;
}
