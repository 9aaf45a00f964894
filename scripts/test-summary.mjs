// Prints one closing line over every suite's report: "N passed, N failed", then what failed.
// Vitest suites are read from scripts/vitest-counts.mjs's files (a test stopped by a failed
// beforeAll and a failed afterAll count as failures there); Playwright from its JSON report.
import { existsSync, readFileSync } from 'node:fs';
let passed = 0, failed = 0, skipped = 0;
const failures = [];
for (const project of ['unit', 'integration', 'debian']) {
  const f = `test-reports/${project}.counts.json`;
  if (!existsSync(f)) continue;
  const c = JSON.parse(readFileSync(f, 'utf8'));
  passed += c.passed;
  failed += c.failed;
  skipped += c.skipped;
  failures.push(...c.failures.map((x) => `${project}: ${x}`));
}
if (existsSync('test-reports/e2e.json')) {
  const r = JSON.parse(readFileSync('test-reports/e2e.json', 'utf8'));
  // Playwright marks a test that a failed beforeAll stopped as "skipped" with "passed" expected
  // (its "did not run"), and blames a failed afterAll on the last test; errors outside any test
  // (global setup, worker teardown) are in `errors`.
  const walk = (suite, path) => {
    for (const spec of suite.specs ?? []) for (const t of spec.tests) {
      const name = `${path} > ${spec.title}`;
      if (t.status === 'expected') passed++;
      else if (t.status === 'skipped' && t.expectedStatus === 'skipped') skipped++;
      else {
        failed++;
        const err = t.results?.at(-1)?.error?.message ?? '';
        // Colour codes out; the first lines only: CI keeps the tail of the output, where this is.
        const why = String(err).replace(/\u001b\[[0-9;]*m/g, '').split('\n').map((l) => l.trim()).filter(Boolean).slice(0, 4).join(' / ').slice(0, 600);
        failures.push(`e2e: ${name}${t.status === 'skipped' ? ': never ran' : why ? `: ${why}` : ''}`);
      }
    }
    for (const s of suite.suites ?? []) walk(s, `${path} > ${s.title}`);
  };
  for (const s of r.suites ?? []) walk(s, s.title);
  for (const e of r.errors ?? []) { failed++; failures.push(`e2e: ${String(e.message ?? '').split('\n')[0]}`); }
}
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
for (const f of failures) console.log(`  failed: ${f}`);
