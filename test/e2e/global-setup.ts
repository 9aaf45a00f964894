import { execFileSync } from 'node:child_process';

// The e2e tests drive the built product (`vlx gui` and dist/renderer), so build it first.
export default function globalSetup(): void {
  execFileSync(process.execPath, ['scripts/build.mjs', 'cli', 'renderer'], { stdio: 'inherit' });
}
