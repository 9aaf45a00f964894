// Builds the CLI bundle (dist/vlx.mjs), the web bridge entry and the renderer.
// Dependencies stay external: they resolve from node_modules at run time.
import { build } from 'esbuild';
import { existsSync } from 'node:fs';

const what = new Set(process.argv.slice(2));
const all = what.size === 0;
const common = { bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', sourcemap: 'linked', logLevel: 'warning', loader: { '.sql': 'text' } };

if (all || what.has('cli')) {
  await build({ ...common, entryPoints: ['main/cli/index.ts'], outfile: 'dist/vlx.mjs' });
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
