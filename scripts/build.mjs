// Builds the CLI bundle (dist/vlx.mjs), the web bridge entry and the renderer.
// Dependencies stay external: they resolve from node_modules at run time.
import { build } from 'esbuild';
import { existsSync, rmSync } from 'node:fs';

const what = new Set(process.argv.slice(2));
const all = what.size === 0;
const common = { bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', sourcemap: 'linked', logLevel: 'warning', loader: { '.sql': 'text' } };

if (all || what.has('cli')) {
  // Split so each command's code loads only when that command runs (see main/cli/index.ts).
  rmSync('dist/cli-chunks', { recursive: true, force: true });
  await build({ ...common, entryPoints: { vlx: 'main/cli/index.ts' }, outdir: 'dist', splitting: true, chunkNames: 'cli-chunks/[name]-[hash]', outExtension: { '.js': '.mjs' } });
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
