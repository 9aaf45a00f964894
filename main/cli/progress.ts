import type { StepState, TaskEvent, TaskSummary } from '../tasks/types.js';

/**
 * Live progress of a task on the terminal (stderr, so stdout stays clean for --json).
 * On a TTY: a block with one line per step that redraws itself, log lines scrolling above
 * it. Elsewhere: one plain line per change worth reading (a step starting, its note
 * changing, a step ending, a log line), never a line per percent.
 */

const MARK: Record<StepState, string> = { pending: ' ', running: '>', done: '+', failed: '!', skipped: '-' };

function pct(f: number): string {
  return `${Math.round(f * 100)}%`.padStart(4);
}

/** The TTY block: one line per step, then the task line. Pure. */
export function stepLines(task: TaskSummary, width = 100): string[] {
  const nameWidth = Math.min(28, Math.max(...task.steps.map((s) => s.name.length), 4));
  const lines = task.steps.map((s, i) => {
    const pos = `${i + 1}/${task.steps.length}`.padStart(String(task.steps.length).length * 2 + 1);
    const amount = s.state === 'running' ? pct(s.progress) : s.state === 'done' ? 'done' : s.state === 'pending' ? '' : s.state;
    return `${MARK[s.state]} ${pos} ${s.name.padEnd(nameWidth)} ${amount.padEnd(7)} ${s.note ?? ''}`.trimEnd();
  });
  lines.push(`  ${task.kind} ${task.target}: ${task.state} ${pct(task.progress).trim()}${task.error ? ` - ${task.error.message}` : ''}`);
  return lines.map((l) => (l.length > width ? l.slice(0, width - 1) + '…' : l));
}

/** Plain lines for what changed between two snapshots of a task. Pure. */
export function plainUpdates(prev: TaskSummary | undefined, next: TaskSummary): string[] {
  const out: string[] = [];
  if (!prev) out.push(`task ${next.id}: ${next.kind} ${next.target}${next.attempts && next.attempts > 1 ? ` (resumed, attempt ${next.attempts})` : ''}`);
  next.steps.forEach((s, i) => {
    const p = prev?.steps[i];
    const tag = `[${i + 1}/${next.steps.length}] ${s.name}`;
    if (s.state !== p?.state) {
      if (s.state === 'running') out.push(`${tag}: started`);
      else if (s.state === 'done' && p) out.push(`${tag}: done${s.note ? ` (${s.note})` : ''}`);
      else if (s.state === 'failed') out.push(`${tag}: failed${s.note ? `: ${s.note}` : ''}`);
      else if (s.state === 'skipped') out.push(`${tag}: skipped`);
    } else if (s.state === 'running' && s.note && s.note !== p?.note) {
      out.push(`${tag}: ${pct(s.progress).trim()} ${s.note}`);
    }
  });
  if (next.state !== 'running' && prev?.state !== next.state) {
    out.push(`task ${next.id} ${next.state}${next.error ? `: ${next.error.message}` : ''}`);
  }
  return out;
}

export interface TaskProgress {
  onEvent(e: TaskEvent): void;
  /** Leave the terminal clean (cursor below the block). */
  finish(): void;
}

export function createTaskProgress(stream: NodeJS.WriteStream = process.stderr, tty = Boolean(stream.isTTY)): TaskProgress {
  let last: TaskSummary | undefined;
  let drawn = 0;
  const clearBlock = (): void => {
    if (drawn > 0) stream.write(`\x1b[${drawn}A\r\x1b[J`);
    drawn = 0;
  };
  const drawBlock = (): void => {
    if (!last) return;
    const lines = stepLines(last, stream.columns || 100);
    stream.write(lines.join('\n') + '\n');
    drawn = lines.length;
  };
  return {
    onEvent(e) {
      if (tty) {
        clearBlock();
        if (e.type === 'log') stream.write(`  | ${e.line}\n`);
        else last = e.task;
        drawBlock();
        return;
      }
      if (e.type === 'log') {
        stream.write(`  | ${e.line}\n`);
        return;
      }
      for (const l of plainUpdates(last, e.task)) stream.write(l + '\n');
      last = e.task;
    },
    finish() {
      drawn = 0;
    },
  };
}
