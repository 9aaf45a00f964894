import { useEffect, useRef } from 'react';
import { resumable, useTasks } from '../stores/tasks.js';
import { failure, runningFirst, taskTitle } from '../stores/tasks.logic.js';
import { Badge, Empty, ErrorState, Loading, Progress, ago, duration } from '../components/common.js';

const TONE: Record<string, string> = { running: 'info', succeeded: 'ok', failed: 'bad', cancelled: 'muted' };
const STEP_MARK: Record<string, string> = { pending: '○', running: '◐', done: '●', failed: '✕', skipped: '–' };

export function TasksScreen() {
  const s = useTasks();
  useEffect(() => { void s.load(); }, []); // eslint-disable-line react-hooks/exhaustive-deps
  const list = runningFirst(s);
  const selected = s.selected ?? list[0]?.id;
  useEffect(() => { if (selected && !s.selected) void s.select(selected); }, [selected]); // eslint-disable-line react-hooks/exhaustive-deps
  return (
    <div className="screen">
      <header className="screen-head row-between">
        <div>
          <h1>Tasks</h1>
          <p className="lead">Every workflow runs as a task of idempotent steps: an interrupted task resumes where it stopped when run again.</p>
        </div>
        <div className="toolbar"><button className="btn" onClick={() => void s.load()} disabled={s.loading}>Refresh</button></div>
      </header>
      {s.error && list.length === 0 ? <ErrorState error={s.error} what="tasks" onRetry={s.load} />
        : s.loading && list.length === 0 ? <Loading what="tasks" />
        : list.length === 0 ? <Empty title="No tasks yet">Tasks appear here when you start a lab, create or start a virtual cluster, or move a VM.</Empty>
        : (
          <div className="split tasks-split">
            <ul className="task-list" aria-label="Tasks">
              {list.map((t) => (
                <li key={t.id}>
                  <button className={`task-item${t.id === selected ? ' active' : ''}`} onClick={() => void s.select(t.id)}>
                    <div className="row-between"><strong>{taskTitle(t)}</strong><Badge state={t.interrupted ? 'warn' : TONE[t.state] ?? 'muted'}>{t.interrupted ? 'interrupted' : t.state}</Badge></div>
                    <Progress value={t.progress} state={t.state} label={`${taskTitle(t)} progress`} />
                    <div className="row-between muted small"><span>{t.interrupted ? `stopped at ${t.currentStep ?? '?'}: run it again to resume` : t.state === 'running' ? t.currentStep ?? 'starting' : t.state === 'failed' ? `failed at ${failure(t)?.step ?? '?'}` : duration(t.startedAt, t.endedAt)}</span><span>{ago(t.startedAt)}</span></div>
                  </button>
                </li>
              ))}
            </ul>
            {selected && <TaskDetail id={selected} />}
          </div>
        )}
    </div>
  );
}

function TaskDetail({ id }: { id: string }) {
  const task = useTasks((s) => s.byId[id]);
  const log = useTasks((s) => s.logs[id]);
  const cancel = useTasks((s) => s.cancel);
  const resume = useTasks((s) => s.resume);
  const logRef = useRef<HTMLPreElement>(null);
  const stick = useRef(true);
  useEffect(() => {
    const el = logRef.current;
    if (el && stick.current) el.scrollTop = el.scrollHeight;
  }, [log?.length]);
  if (!task) return <section className="detail"><Loading what="the task" /></section>;
  const fail = failure(task);
  return (
    <section className="detail task-detail" aria-label={`task ${taskTitle(task)}`}>
      <div className="detail-head">
        <h2>{taskTitle(task)}</h2>
        <Badge state={task.interrupted ? 'warn' : TONE[task.state] ?? 'muted'}>{task.interrupted ? 'interrupted' : task.state}</Badge>
        <span className="spacer" />
        {task.state === 'running' && !task.interrupted && <button className="btn small danger" onClick={() => void cancel(task.id)} title="Stops between steps; a re-run resumes">Cancel</button>}
        {resumable(task) && <button className="btn small primary" onClick={() => void resume(task.id)} title="Runs it again from its first unfinished step; each step first settles from what runs on the nodes">Resume</button>}
      </div>
      <div className="muted small">{task.kind} · id <span className="mono">{task.id}</span> · started {new Date(task.startedAt).toLocaleString()} · {duration(task.startedAt, task.endedAt)}</div>
      <div className="row-between"><span>{task.interrupted ? `interrupted at ${task.currentStep ?? '?'}: run the same operation again to resume` : task.currentStep ?? (task.state === 'succeeded' ? 'Done' : task.state === 'failed' ? 'Failed' : task.state === 'cancelled' ? 'Cancelled' : '')}</span><span className="mono">{Math.round(task.progress * 100)}%</span></div>
      <Progress value={task.progress} state={task.state} label="task progress" />
      {fail && (
        <div className="notice bad" role="alert"><strong>Failed{fail.step ? ` at step “${fail.step}”` : ''}:</strong> {fail.message}{task.error?.code ? <span className="muted small"> ({task.error.code})</span> : null}</div>
      )}
      <ol className="steps">
        {task.steps.map((st) => (
          <li key={st.name} className={`step step-${st.state}`}>
            <span className="step-mark" aria-hidden="true">{STEP_MARK[st.state]}</span>
            <span className="step-name">{st.name}</span>
            {st.note && <span className="muted small">{st.note}</span>}
            {st.state === 'running' && <span className="step-progress"><Progress value={st.progress} label={`${st.name} progress`} /></span>}
          </li>
        ))}
      </ol>
      <h3>Log</h3>
      <pre className="log" ref={logRef} onScroll={(e) => { const el = e.currentTarget; stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 24; }}>
        {(log ?? []).map((l, i) => <div key={i}><span className="log-at">{l.at.slice(11, 19)}</span> {l.line}</div>)}
        {(!log || log.length === 0) && <span className="muted">no log lines yet</span>}
      </pre>
    </section>
  );
}
