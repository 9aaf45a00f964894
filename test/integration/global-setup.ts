import { execFileSync } from 'node:child_process';
import { ensureLab } from './support/lab.js';

/**
 * Once for the integration project: build the CLI the tests call, and make sure a lab of
 * (at least) 4 nodes is up and registered. The lab stays up afterwards: bringing it up is
 * the slow part and later runs reuse it; `.ci/run` tears it down.
 */
export default async function setup(): Promise<void> {
  execFileSync('node', ['scripts/build.mjs', 'cli'], { stdio: 'inherit' });
  await ensureLab();
}
