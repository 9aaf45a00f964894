// npm run bench -- <exec|vc|ui|failover|evacuate> [options]: bundles bench/<name>.ts (no tsx here) and runs it.
import { build } from 'esbuild';
import { existsSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

const [name, ...rest] = process.argv.slice(2);
const known = ['exec', 'vc', 'ui', 'failover', 'evacuate'];
if (!name || !known.includes(name)) {
  process.stderr.write(`usage: npm run bench -- <${known.join('|')}> [options]\n`);
  process.exit(2);
}
const entry = `bench/${name}.ts`;
if (!existsSync(entry)) {
  process.stderr.write(`bench: ${entry} does not exist yet\n`);
  process.exit(2);
}
const outfile = `dist/bench/${name}.mjs`;
await build({
  entryPoints: [entry], outfile, bundle: true, platform: 'node', format: 'esm', target: 'node20',
  packages: 'external', sourcemap: 'linked', logLevel: 'warning', loader: { '.sql': 'text' },
});
const r = spawnSync(process.execPath, ['--enable-source-maps', outfile, ...rest], { stdio: 'inherit' });
process.exit(r.status ?? 1);
