import { useEffect } from 'react';
import { useTasks } from '../stores/tasks.js';
import { useApp } from '../stores/app.js';
import { Progress } from './common.js';

/**
 * A long action's task where it was started: its step, a progress bar, the error if it
 * failed, and the last lines of its log, from the task events. The Tasks screen has the rest.
 */
export function TaskProgress({ taskId, lines = 5, label }: { taskId: string; lines?: number; label: string }) {
  const task = useTasks((s) => s.byId[taskId]);
  const log = useTasks((s) => s.logs[taskId]);
  // An action that ended before its first event arrived (or a reloaded page): ask for it once.
  useEffect(() => { if (!useTasks.getState().byId[taskId]) void useTasks.getState().fetch(taskId); }, [taskId]);
  const go = useApp((s) => s.go);
  const openInTasks = () => { void useTasks.getState().select(taskId); go('tasks'); };
  if (!task) return <div className="task-progress" data-task={taskId}><span className="spinner" aria-hidden="true" /> Starting…</div>;
  const state = task.interrupted ? 'interrupted' : task.state;
  return (
    <div className={`task-progress task-${state}`} data-task={taskId} data-state={state} aria-label={`${label}: ${state}`}>
      <div className="row-between">
        <span>{task.interrupted ? `interrupted at ${task.currentStep ?? '?'}: run it again to resume` : task.currentStep ?? (task.state === 'succeeded' ? 'Done' : task.state === 'failed' ? 'Failed' : task.state === 'cancelled' ? 'Cancelled' : 'Starting')}</span>
        <span className="muted">{Math.round(task.progress * 100)}% <button className="btn small ghost" onClick={openInTasks}>Details</button></span>
      </div>
      <Progress value={task.progress} state={task.state} label={`${label} progress`} />
      {task.error && <div className="inline-error" role="alert"><strong>{task.error.step ? `${task.error.step}: ` : ''}{task.error.message}</strong></div>}
      {log && log.length > 0 && <pre className="log-tail">{log.slice(-lines).map((l) => l.line).join('\n')}</pre>}
    </div>
  );
}
