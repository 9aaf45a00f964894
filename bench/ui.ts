/**
 * `npm run bench -- ui`: the Topology screen with 64 nodes and 1,000 VMs (synthetic state
 * through the real store) in Debian's Chromium. Measures the time to first render and the
 * per-frame cost of dragging 50 selected VMs across every lane. Targets: first render under
 * 300 ms, drag frames under 16 ms. Screenshots go to test-results/screenshots/.
 *
 * Run directly: bundle it with esbuild (packages external) into dist/ and run it with VLX_BENCH=ui.
 */
import { build } from 'esbuild';
import { existsSync, mkdirSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from '@playwright/test';

// The package root, whether this runs from bench/ or bundled into dist/.
function packageRoot(): string {
  let dir = import.meta.dirname;
  while (!existsSync(join(dir, 'package.json')) && resolve(dir, '..') !== dir) dir = resolve(dir, '..');
  return dir;
}
const root = packageRoot();

export interface UiBenchResult {
  firstRender: { ms: number; commitMs: number; chips: number; lanes: number };
  drag: { frames: number; medianMs: number; p95Ms: number; maxMs: number; dropMs: number; dialog: boolean };
  targets: { firstRenderMs: number; dragFrameMs: number };
  pass: { firstRender: boolean; drag: boolean };
}

export async function benchUi(opts: { nodes?: number; vms?: number; runs?: number } = {}): Promise<UiBenchResult[]> {
  const dir = mkdtempSync(join(tmpdir(), 'vlx-bench-ui-'));
  try {
    await build({
      entryPoints: [join(root, 'bench/ui-page.tsx')], bundle: true, format: 'esm', platform: 'browser', target: 'chrome120',
      outdir: dir, jsx: 'automatic', minify: true, define: { 'process.env.NODE_ENV': '"production"' }, logLevel: 'warning',
      loader: { '.woff2': 'file' },
    });
    writeFileSync(join(dir, 'index.html'), '<!doctype html><html><head><meta charset="utf-8"><link rel="stylesheet" href="ui-page.css"></head><body><div id="root"></div><script type="module" src="ui-page.js"></script></body></html>');
    const browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: ['--no-sandbox', '--headless', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run', '--allow-file-access-from-files'],
    });
    const shots = join(root, 'test-results', 'screenshots');
    mkdirSync(shots, { recursive: true });
    const results: UiBenchResult[] = [];
    try {
      for (let run = 0; run < (opts.runs ?? 3); run++) {
        const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
        const url = `${pathToFileURL(join(dir, 'index.html')).href}?nodes=${opts.nodes ?? 64}&vms=${opts.vms ?? 1000}`;
        await page.goto(url);
        await page.waitForFunction(() => typeof window.bench === 'object');
        const firstRender = await page.evaluate(() => window.bench.firstRender!()) as UiBenchResult['firstRender'];
        if (run === 0) await page.screenshot({ path: join(shots, 'bench-topology.png') });
        const drag = await page.evaluate(() => window.bench.drag!()) as UiBenchResult['drag'];
        if (run === 0) await page.screenshot({ path: join(shots, 'bench-move-dialog.png') });
        results.push({
          firstRender, drag, targets: { firstRenderMs: 300, dragFrameMs: 16 },
          pass: { firstRender: firstRender.ms < 300, drag: drag.p95Ms < 16 },
        });
        await page.close();
      }
    } finally {
      await browser.close();
    }
    return results;
  } finally {
    if (!process.env.VLX_BENCH_KEEP) rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] && /bench[/\\]ui\.(ts|mjs|js)$/.test(process.argv[1]) || process.env.VLX_BENCH === 'ui') {
  const results = await benchUi();
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const summary = {
    firstRenderMs: med(results.map((r) => r.firstRender.ms)),
    dragFrameMedianMs: med(results.map((r) => r.drag.medianMs)),
    dragFrameP95Ms: med(results.map((r) => r.drag.p95Ms)),
    chips: results[0]!.firstRender.chips,
    lanes: results[0]!.firstRender.lanes,
    runs: results,
  };
  process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
}
