import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { build } from 'esbuild';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDb, type Db } from '../../main/db/client.js';
import { migrate } from '../../main/db/migrate.js';
import { runWorkflow } from '../../main/tasks/runner.js';
import { cancelTask, getTask, listTasks, taskLog } from '../../main/tasks/store.js';
import type { Step, TaskEvent, WorkflowDef } from '../../main/tasks/types.js';
import { VlxError } from '../../main/errors.js';
import { startLocalPg, type LocalPg } from '../support/localPg.js';

const root = join(import.meta.dirname, '../..');
const work = join(root, '.vlx-test', `tasks-${process.pid}`);
let pg: LocalPg;
let db: Db;
let targetSeq = 0;
const target = () => `t${++targetSeq}`;

const step = (name: string, run: Step['run'] = async () => {}): Step => ({ name, run });
/** Wait for a condition, for `ms` at most; failing, say what never happened. */
const until = async (what: string, cond: () => boolean | Promise<boolean>, ms = 15_000): Promise<void> => {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`within ${ms / 1000} s, never: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

beforeAll(async () => {
  mkdirSync(work, { recursive: true });
  pg = await startLocalPg();
  db = openDb(pg.endpoint);
  await migrate(db);
});
afterAll(async () => {
  await db?.close();
  await pg?.stop();
  rmSync(work, { recursive: true, force: true });
});

describe('runWorkflow', () => {
  it('runs the steps in order, stores them, and emits events in order', async () => {
    const order: string[] = [];
    const seen: TaskEvent[] = [];
    const def: WorkflowDef = {
      kind: 'test.order', target: target(), params: { n: 3 },
      steps: ['a', 'b', 'c'].map((n) => step(n, async (ctx) => {
        order.push(n);
        ctx.log(`hello from ${n}`);
        ctx.progress(0.5, `${n} half`);
      })),
    };
    const s = await runWorkflow(db, def, { onEvent: (e) => seen.push(e) });
    expect(order).toEqual(['a', 'b', 'c']);
    expect(s.state).toBe('succeeded');
    expect(s.progress).toBe(1);
    expect(s.steps.map((x) => x.state)).toEqual(['done', 'done', 'done']);

    // In order: each step goes running → (progress) → done, logs inside their step, one final event.
    const trace = seen.map((e) => e.type === 'log' ? `log:${e.line}` : `${e.task.state}:${e.task.steps.map((x) => x.state[0]).join('')}`);
    expect(trace).toEqual([
      'running:ppp',
      'running:rpp', 'log:hello from a', 'running:rpp', 'running:dpp',
      'running:drp', 'log:hello from b', 'running:drp', 'running:ddp',
      'running:ddr', 'log:hello from c', 'running:ddr', 'running:ddd',
      'succeeded:ddd',
    ]);
    const progress = seen.flatMap((e) => (e.type === 'task' ? [e.task.progress] : []));
    expect(progress).toEqual([...progress].sort((x, y) => x - y));

    const stored = await getTask(db, s.id);
    expect(stored.state).toBe('succeeded');
    expect(stored.steps).toEqual([
      { name: 'a', state: 'done', progress: 1, note: 'a half' },
      { name: 'b', state: 'done', progress: 1, note: 'b half' },
      { name: 'c', state: 'done', progress: 1, note: 'c half' },
    ]);
    expect(stored.log.map((l) => l.line)).toEqual(['hello from a', 'hello from b', 'hello from c']);
    expect(stored.log.map((l) => l.step)).toEqual([0, 1, 2]);
    expect(stored.params).toEqual({ n: 3 });
    expect(stored.endedAt).toBeDefined();
  });

  it('a failing step fails the task with the step named; later steps do not run', async () => {
    const ran: string[] = [];
    const s = await runWorkflow(db, {
      kind: 'test.fail', target: target(),
      steps: [
        step('prepare', async () => void ran.push('prepare')),
        step('boom', async () => {
          throw new VlxError('remote-failed', 'n2: qemu-img exited 1', 'check the shared storage');
        }),
        step('after', async () => void ran.push('after')),
      ],
    });
    expect(ran).toEqual(['prepare']);
    expect(s.state).toBe('failed');
    expect(s.error).toEqual({ code: 'remote-failed', message: 'n2: qemu-img exited 1', step: 'boom', hint: 'check the shared storage' });
    const stored = await getTask(db, s.id);
    expect(stored.state).toBe('failed');
    expect(stored.currentStep).toBe('boom');
    expect(stored.error).toEqual(s.error);
    expect(stored.steps.map((x) => x.state)).toEqual(['done', 'failed', 'pending']);
    expect(stored.steps[1].note).toBe('n2: qemu-img exited 1');
    expect(stored.log.map((l) => l.line)).toContain('step "boom" failed: n2: qemu-img exited 1');
  });

  it('re-running a failed task continues it at the failed step; another step list starts a new task', async () => {
    const t = target();
    let fail = true;
    const ran: string[] = [];
    const mk = (names: string[]): WorkflowDef => ({
      kind: 'test.retry', target: t,
      steps: names.map((n) => step(n, async () => {
        ran.push(n);
        if (n === 'b' && fail) throw new Error('not yet');
      })),
    });
    const first = await runWorkflow(db, mk(['a', 'b', 'c']));
    expect(first.state).toBe('failed');
    fail = false;
    const second = await runWorkflow(db, mk(['a', 'b', 'c']));
    expect(second.id).toBe(first.id);
    expect(second.state).toBe('succeeded');
    expect(second.attempts).toBe(2);
    expect(ran).toEqual(['a', 'b', 'b', 'c']);
    // succeeded: the next run is a new task
    const third = await runWorkflow(db, mk(['a', 'b', 'c']));
    expect(third.id).not.toBe(first.id);

    fail = true;
    const f = await runWorkflow(db, mk(['a', 'b']));
    expect(f.state).toBe('failed');
    const other = await runWorkflow(db, mk(['a', 'x']));
    expect(other.id).not.toBe(f.id);
    expect(other.state).toBe('succeeded');
    expect((await getTask(db, f.id)).state).toBe('failed');
  });

  it('resumes after the process running it was killed in the middle of step 2', async () => {
    const t = target();
    const marks = join(work, `${t}.marks`);
    const child = join(work, 'child.mjs');
    await build({
      stdin: {
        contents: `
          import { appendFileSync } from 'node:fs';
          import { openDb } from './main/db/client.ts';
          import { runWorkflow } from './main/tasks/runner.ts';
          const [endpoint, target, marks] = [JSON.parse(process.argv[2]), process.argv[3], process.argv[4]];
          const db = openDb(endpoint);
          await runWorkflow(db, { kind: 'test.crash', target, lockKey: 'vc:' + target, steps: [
            { name: 'one', run: async () => appendFileSync(marks, 'one\\n') },
            { name: 'two', run: async (ctx) => { ctx.log('two started'); appendFileSync(marks, 'two-start\\n'); await new Promise(() => setInterval(() => {}, 1000)); } },
            { name: 'three', run: async () => appendFileSync(marks, 'three\\n') },
          ] });`,
        resolveDir: root, sourcefile: 'crash-child.ts', loader: 'ts',
      },
      bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', loader: { '.sql': 'text' },
      outfile: child, logLevel: 'error',
    });
    const proc = spawn(process.execPath, [child, JSON.stringify(pg.endpoint), t, marks], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    proc.stderr.on('data', (d) => (stderr += d));
    const exited = new Promise<number | null>((res) => proc.on('exit', (code) => res(code)));
    await until('the child process reached step two (or exited)', () => (existsSync(marks) && readFileSync(marks, 'utf8').includes('two-start')) || proc.exitCode !== null);
    expect(stderr).toBe('');
    proc.kill('SIGKILL');
    await exited;
    // The server drops the killed process's session, and its lock with it.
    await until(`the server released the killed process's lock vc:${t}`, async () => !(await db.isLocked(`vc:${t}`)));

    const [dead] = await listTasks(db, { kind: 'test.crash', target: t });
    expect(dead.state).toBe('running');
    expect(dead.interrupted).toBe(true);
    expect(dead.steps.map((s) => s.state)).toEqual(['done', 'running', 'pending']);

    const s = await runWorkflow(db, {
      kind: 'test.crash', target: t, lockKey: `vc:${t}`, steps: [
        step('one', async () => appendFileSync(marks, 'one\n')),
        step('two', async () => appendFileSync(marks, 'two-again\n')),
        step('three', async () => appendFileSync(marks, 'three\n')),
      ],
    });
    expect(s.id).toBe(dead.id);
    expect(s.state).toBe('succeeded');
    expect(s.attempts).toBe(2);
    expect(readFileSync(marks, 'utf8').trim().split('\n')).toEqual(['one', 'two-start', 'two-again', 'three']);
    expect(await listTasks(db, { all: true, kind: 'test.crash', target: t })).toHaveLength(1);
    const log = (await taskLog(db, s.id)).map((l) => l.line);
    expect(log[log.length - 1]).toMatch(/^resumed by .* pid \d+ \(attempt 2\), continuing at step "two"$/);
  });

  it('cancel stops between steps and aborts the running step\'s signal', async () => {
    const ran: string[] = [];
    let aborted = false;
    const other = openDb(pg.endpoint);
    const def: WorkflowDef = {
      kind: 'test.cancel', target: target(),
      steps: [
        step('one', async (ctx) => {
          ran.push('one');
          // Another workstation cancels; this step finishes its work anyway.
          await cancelTask(other, ctx.taskId);
          if (!ctx.signal.aborted) await new Promise<void>((res) => ctx.signal.addEventListener('abort', () => res(), { once: true }));
          aborted = ctx.signal.aborted;
        }),
        step('two', async () => void ran.push('two')),
      ],
    };
    const s = await runWorkflow(db, def);
    await other.close();
    expect(aborted).toBe(true);
    expect(ran).toEqual(['one']);
    expect(s.state).toBe('cancelled');
    expect(s.steps.map((x) => x.state)).toEqual(['done', 'pending']);
    const stored = await getTask(db, s.id);
    expect(stored.state).toBe('cancelled');
    expect(stored.cancelRequested).toBe(true);
    await expect(cancelTask(db, s.id)).rejects.toMatchObject({ code: 'conflict' });

    // A step that gives up when cancelled stays to be done; the re-run continues there.
    const t = target();
    const mk = (cancelInStep: boolean): WorkflowDef => ({
      kind: 'test.cancel2', target: t,
      steps: [
        step('one', async () => void ran.push('one')),
        step('long', async (ctx) => {
          ran.push('long');
          if (!cancelInStep) return;
          void cancelTask(db, ctx.taskId);
          await new Promise((_, rej) => ctx.signal.addEventListener('abort', () => rej(ctx.signal.reason), { once: true }));
        }),
        step('last', async () => void ran.push('last')),
      ],
    });
    ran.length = 0;
    const c = await runWorkflow(db, mk(true));
    expect(c.state).toBe('cancelled');
    expect(c.steps.map((x) => [x.state, x.note])).toEqual([['done', undefined], ['pending', 'interrupted by cancel'], ['pending', undefined]]);
    const r = await runWorkflow(db, mk(false));
    expect(r.id).toBe(c.id);
    expect(r.state).toBe('succeeded');
    expect(ran).toEqual(['one', 'long', 'long', 'last']);
  });

  it('the caller\'s AbortSignal cancels like `vlx tasks cancel`', async () => {
    const ac = new AbortController();
    const s = await runWorkflow(db, {
      kind: 'test.abort', target: target(),
      steps: [step('one', async () => ac.abort()), step('two')],
    }, { signal: ac.signal });
    expect(s.state).toBe('cancelled');
    expect(s.steps.map((x) => x.state)).toEqual(['done', 'pending']);
    await until(`task ${s.id} was stored as cancel-requested`, async () => (await getTask(db, s.id)).cancelRequested === true);
  });

  it('a second run under the same lock fails fast with conflict, naming the running task', async () => {
    const lockKey = `vc:${target()}`;
    let release = () => {};
    let started = () => {};
    const isStarted = new Promise<void>((r) => (started = r));
    const first = runWorkflow(db, {
      kind: 'vc.start', target: 'web', lockKey,
      steps: [step('wait', () => { started(); return new Promise<void>((r) => (release = r)); })],
    });
    await isStarted;
    const other = openDb(pg.endpoint);
    const err = await runWorkflow(other, { kind: 'vc.stop', target: 'web', lockKey, steps: [step('x')] }).catch((e) => e as VlxError);
    await other.close();
    release();
    const done = await first;
    expect(err).toBeInstanceOf(VlxError);
    expect((err as VlxError).code).toBe('conflict');
    expect((err as VlxError).message).toBe(`"${lockKey}" is locked by task ${done.id} (vc.start web) on ${done.host}`);
    expect(done.state).toBe('succeeded');
  });

  it('other workstations follow a task through NOTIFY on vlx_events', async () => {
    const watcher = openDb(pg.endpoint);
    const got: { type: string; id: string; state?: string }[] = [];
    const stop = await watcher.listen('vlx_events', (p) => got.push(JSON.parse(p)));
    const s = await runWorkflow(db, { kind: 'test.notify', target: target(), steps: [step('a', async (ctx) => ctx.log('x'))] });
    await until(`a NOTIFY said task ${s.id} succeeded`, () => got.some((e) => e.id === s.id && e.state === 'succeeded'));
    await stop();
    await watcher.close();
    const mine = got.filter((e) => e.id === s.id);
    expect(mine[0]).toEqual({ type: 'task', id: s.id, state: 'running', cancel: false });
    expect(mine.some((e) => e.type === 'log')).toBe(true);
    expect(mine[mine.length - 1].state).toBe('succeeded');
  });

  it('lists tasks newest first, finds them by id prefix, refuses bad ids', async () => {
    const a = await runWorkflow(db, { kind: 'test.list', target: target(), steps: [step('a')] });
    const b = await runWorkflow(db, { kind: 'test.list', target: target(), steps: [step('a')] });
    const list = await listTasks(db, { kind: 'test.list' });
    expect(list.map((x) => x.id)).toEqual([b.id, a.id]);
    expect((await getTask(db, b.id.slice(0, 13))).id).toBe(b.id);
    await expect(getTask(db, 'zz;rm')).rejects.toMatchObject({ code: 'invalid-input' });
    await expect(getTask(db, '00000000-0000-4000-8000-000000000000')).rejects.toMatchObject({ code: 'not-found' });
    await expect(runWorkflow(db, { kind: 'test.bad', target: 'x', steps: [step('a'), step('a')] })).rejects.toMatchObject({ code: 'invalid-input' });
  });
});
