// Keystroke → echo latency of a node console through the TerminalHub (SSH PTY), the
// server-side part of the UI benchmark's "key pressed → echo painted" figure.
//
//   npx esbuild bench/console-echo.ts --bundle --platform=node --format=esm --packages=external \
//     --outfile=dist/bench-console-echo.mjs && node dist/bench-console-echo.mjs [--node n1] [--samples 200] [--cluster lab]
//
// Prints one JSON object: the median and spread of 200 sequential keystrokes.
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { getCluster } from '../main/config/clusters.js';
import { openCluster } from '../main/ssh/session.js';
import { checkInt, checkName } from '../main/util/names.js';
import { TerminalHub } from '../main/consoles/terminals.js';

export interface EchoResult {
  node: string;
  samples: number;
  medianMs: number;
  p95Ms: number;
  minMs: number;
  maxMs: number;
  /** Time to open the shell (SSH channel + PTY + first prompt). */
  openMs: number;
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/**
 * Type one character at a time into `cat` (canonical mode: the node's line discipline
 * echoes it at once) and time each round trip from hub.write to the hub's data event.
 */
export async function measureConsoleEcho(hub: TerminalHub, node: string, samples = 200): Promise<EchoResult> {
  let wake: ((s: string) => void) | undefined;
  let id = '';
  const off = hub.onData((tid, d) => { if (tid === id) wake?.(d); });
  const next = (pattern: RegExp, limitMs = 10_000) => new Promise<void>((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => { wake = undefined; reject(new Error(`console-echo: no ${pattern} within ${limitMs} ms (saw ${JSON.stringify(seen.slice(-200))})`)); }, limitMs);
    wake = (d) => {
      seen += d;
      if (pattern.test(seen)) { clearTimeout(timer); wake = undefined; resolve(); }
    };
  });
  try {
    const t0 = performance.now();
    const ready = next(/[#$] $/);
    id = (await hub.open({ node }, { rows: 24, cols: 200 })).id;
    await ready;
    const openMs = performance.now() - t0;
    const catting = next(/MARK\r\n/);
    hub.write(id, 'echo MA""RK; exec cat >/dev/null\r');
    await catting;

    const times: number[] = [];
    for (let i = 0; i < samples + 10; i++) {
      // Letters cycle so a late echo of the previous key is never taken for this one.
      const ch = String.fromCharCode(97 + (i % 26));
      const echoed = next(new RegExp(ch));
      const start = performance.now();
      hub.write(id, ch);
      await echoed;
      if (i >= 10) times.push(performance.now() - start); // the first few warm the path
      // Keep the line short: the line discipline holds at most 4095 characters.
      if (i % 100 === 99) {
        const nl = next(/\n/);
        hub.write(id, '\r');
        await nl;
      }
    }
    times.sort((a, b) => a - b);
    const r = (x: number) => Math.round(x * 1000) / 1000;
    return { node, samples, medianMs: r(quantile(times, 0.5)), p95Ms: r(quantile(times, 0.95)), minMs: r(times[0]), maxMs: r(times[times.length - 1]), openMs: r(openMs) };
  } finally {
    off();
    if (id) hub.close(id);
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { node: { type: 'string', default: 'n1' }, samples: { type: 'string', default: '200' }, cluster: { type: 'string' } } });
  const node = checkName('node', values.node, '--node');
  const samples = checkInt(values.samples, '--samples', 10, 100_000);
  const session = openCluster(getCluster(values.cluster));
  const hub = new TerminalHub(session);
  try {
    process.stdout.write(JSON.stringify(await measureConsoleEcho(hub, node, samples)) + '\n');
  } finally {
    hub.closeAll();
    await session.close();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e) => {
    process.stderr.write(`console-echo: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exitCode = 1;
  });
}
