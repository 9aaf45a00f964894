// Builds the CLI bundle (dist/vlx.mjs), the web bridge entry and the renderer.
// Dependencies stay external: they resolve from node_modules at run time.
import { build } from 'esbuild';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';

const what = new Set(process.argv.slice(2));
const all = what.size === 0;
const common = { bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', sourcemap: 'linked', logLevel: 'warning', loader: { '.sql': 'text', '.c': 'text' } };

if (all || what.has('cli')) {
  // Split so each command's code loads only when that command runs (see main/cli/index.ts).
  // zod and commander are bundled in: loading them as ~100 separate ESM files from node_modules
  // cost a cold `vlx` run about 50 ms; the other packages stay external (native parts, size).
  const pkg = JSON.parse(readFileSync('package.json', 'utf8'));
  const bundled = new Set(['zod', 'commander']);
  const external = Object.keys({ ...pkg.dependencies, ...pkg.devDependencies }).filter((d) => !bundled.has(d)).flatMap((d) => [d, `${d}/*`]);
  const { packages: _all, ...cli } = common;
  rmSync('dist/cli-chunks', { recursive: true, force: true });
  // commander is CommonJS: its require() of node built-ins needs a real require in the ESM bundle.
  const banner = { js: "import { createRequire as __vlxRequire } from 'node:module'; const require = __vlxRequire(import.meta.url);" };
  // Exactly 'zod' (not its subpaths) becomes the slim entry: see scripts/zod-slim.mjs.
  const slimZod = { name: 'slim-zod', setup(b) { b.onResolve({ filter: /^zod$/ }, () => ({ path: resolve('scripts/zod-slim.mjs') })); } };
  await build({ ...cli, banner, plugins: [slimZod], external: [...external, 'cpu-features'], entryPoints: { vlx: 'main/cli/index.ts' }, outdir: 'dist', splitting: true, chunkNames: 'cli-chunks/[name]-[hash]', outExtension: { '.js': '.mjs' } });
}
if ((all || what.has('electron')) && existsSync('electron/main.ts')) {
  await build({ ...common, format: 'cjs', entryPoints: ['electron/main.ts'], outdir: 'dist/electron', outExtension: { '.js': '.cjs' }, external: ['electron'] });
  // A sandboxed preload can require only 'electron': everything else it uses is bundled in.
  const { packages: _external, ...bundled } = common;
  await build({ ...bundled, format: 'cjs', entryPoints: ['electron/preload.ts'], outdir: 'dist/electron', outExtension: { '.js': '.cjs' }, external: ['electron'] });
}
if ((all || what.has('renderer')) && existsSync('renderer/index.html')) {
  const { build: viteBuild } = await import('vite');
  await viteBuild({ configFile: 'renderer/vite.config.ts', logLevel: 'warn' });
}
