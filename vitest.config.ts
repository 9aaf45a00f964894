import { defineConfig } from 'vitest/config';

// main/db/migrations imports its .sql files as text, images/benchMpi.ts its .c probe; the CLI
// bundle does the same with esbuild's text loader (scripts/build.mjs).
const sqlText = {
  name: 'sql-text',
  transform(code: string, id: string) {
    return id.endsWith('.sql') || id.endsWith('.c') ? { code: `export default ${JSON.stringify(code)};`, map: null } : undefined;
  },
};

export default defineConfig({
  test: {
    projects: [
      {
        plugins: [sqlText],
        // electron/* runs in unit tests against a fake of the module; the typecheck and build use the real one.
        resolve: { alias: [{ find: /^electron$/, replacement: new URL('./test/support/fake-electron/index.ts', import.meta.url).pathname }] },
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts', 'test/unit/**/*.test.tsx'],
          environment: 'node',
          // Some unit tests start a real sshd or QEMU: bounded, but above Vitest's 5 s default on 2 busy cores.
          testTimeout: 20_000,
          hookTimeout: 30_000,
        },
      },
      {
        plugins: [sqlText],
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          // One lab for the whole run: files run one after another against it.
          fileParallelism: false,
          globalSetup: ['test/integration/global-setup.ts'],
          testTimeout: 180_000,
          hookTimeout: 300_000,
        },
      },
      {
        plugins: [sqlText],
        test: {
          // The one test of `npm test` with the full Debian guest (builds it once, then boots two).
          name: 'debian',
          include: ['test/debian/**/*.test.ts'],
          fileParallelism: false,
          globalSetup: ['test/integration/global-setup.ts'],
          testTimeout: 1_800_000,
          hookTimeout: 1_800_000,
        },
      },
      {
        plugins: [sqlText],
        test: {
          // The one test of a disk-less node: PXE, TFTP and a root over NBD from the lab, then a
          // take-over of its root server (builds the node image once, then boots it twice).
          name: 'diskless',
          include: ['test/diskless/**/*.test.ts'],
          fileParallelism: false,
          globalSetup: ['test/integration/global-setup.ts'],
          testTimeout: 900_000,
          hookTimeout: 1_800_000,
        },
      },
      {
        plugins: [sqlText],
        test: {
          // Full Debian guests: minutes each under TCG. Not part of `npm test` (see README).
          name: 'slow',
          include: ['test/slow/**/*.test.ts'],
          fileParallelism: false,
          globalSetup: ['test/integration/global-setup.ts'],
          testTimeout: 1_800_000,
          hookTimeout: 1_800_000,
        },
      },
    ],
  },
});
