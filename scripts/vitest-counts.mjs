// A Vitest reporter for the closing summary: counts per project in test-reports/<project>.counts.json.
// Vitest's own JSON report cannot tell a test skipped on purpose (`.skip`, `.todo`) from one that
// never ran because a beforeAll failed (both "skipped"), and it drops suite-level afterAll errors.
// Here a test that never ran for a failed hook counts as failed, and a failed hook that stopped
// no test (an afterAll) counts as one failure of its own.
import { mkdirSync, writeFileSync } from 'node:fs';

export default class VitestCounts {
  onTestRunEnd(modules, unhandledErrors) {
    const byProject = new Map();
    const countsOf = (name) => {
      if (!byProject.has(name)) byProject.set(name, { passed: 0, failed: 0, skipped: 0, failures: [] });
      return byProject.get(name);
    };
    for (const m of modules) {
      const c = countsOf(m.project.name);
      const where = m.moduleId.replace(`${process.cwd()}/`, '');
      // Each module and suite with errors of its own (a hook, a syntax error): the tests under
      // it that never ran are its failures; if none was stopped, the error is one failure.
      const errored = [m, ...m.children.allSuites()].filter((e) => e.errors().length > 0);
      const stoppedBy = new Map(errored.map((e) => [e, 0]));
      for (const t of m.children.allTests()) {
        const state = t.result().state;
        if (state === 'passed') c.passed++;
        else if (state === 'failed') { c.failed++; c.failures.push(`${where} > ${t.fullName}: ${brief(t.result().errors?.[0], where)}`); }
        else if (t.options.mode === 'skip' || t.options.mode === 'todo') c.skipped++;
        else {
          const cause = errored.find((e) => e === m || isUnder(t, e));
          if (!cause) { c.skipped++; continue; } // left out by an `.only` elsewhere
          stoppedBy.set(cause, stoppedBy.get(cause) + 1);
          c.failed++;
          c.failures.push(`${where} > ${t.fullName}: never ran (${firstLine(cause.errors()[0])})`);
        }
      }
      for (const [e, stopped] of stoppedBy) {
        if (stopped > 0) continue;
        c.failed++;
        c.failures.push(`${where}${e === m ? '' : ` > ${e.fullName}`}: ${firstLine(e.errors()[0])}`);
      }
    }
    if (unhandledErrors.length > 0) {
      const c = countsOf(modules[0]?.project.name ?? 'vitest');
      c.failed += unhandledErrors.length;
      for (const e of unhandledErrors) c.failures.push(`unhandled error: ${firstLine(e)}`);
    }
    mkdirSync('test-reports', { recursive: true });
    for (const [name, c] of byProject) writeFileSync(`test-reports/${name}.counts.json`, `${JSON.stringify(c, null, 2)}\n`);
  }
}

function isUnder(test, suite) {
  for (let p = test.parent; p; p = p.parent) if (p === suite) return true;
  return false;
}

/**
 * What CI shows of a failed test: its error's first lines and where in the test file it was
 * thrown. CI keeps only the tail of the output, where this summary is; the full report is lost.
 */
function brief(err, file) {
  const lines = String(err?.message ?? err).split('\n').map((l) => l.trim()).filter(Boolean).slice(0, 4);
  const at = String(err?.stack ?? '').split('\n').find((l) => l.includes(file));
  const where = at ? ` (at ${at.trim().replace(/^at /, '').replace(`${process.cwd()}/`, '')})` : '';
  return `${lines.join(' / ').slice(0, 600)}${where}`;
}

function firstLine(err) {
  return String(err?.message ?? err).split('\n')[0];
}
