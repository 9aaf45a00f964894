// Prints one closing line over every suite's JSON report: "N passed, N failed".
import { existsSync, readFileSync } from 'node:fs';
let passed = 0, failed = 0, skipped = 0;
for (const f of ['test-reports/unit.json', 'test-reports/integration.json', 'test-reports/debian.json']) {
  if (!existsSync(f)) continue;
  const r = JSON.parse(readFileSync(f, 'utf8'));
  passed += r.numPassedTests ?? 0;
  failed += r.numFailedTests ?? 0;
  skipped += (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
}
if (existsSync('test-reports/e2e.json')) {
  const r = JSON.parse(readFileSync('test-reports/e2e.json', 'utf8'));
  passed += r.stats?.expected ?? 0;
  failed += (r.stats?.unexpected ?? 0) + (r.stats?.flaky ?? 0);
  skipped += r.stats?.skipped ?? 0;
}
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
