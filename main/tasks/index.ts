export * from './types.js';
export { runWorkflow, taskLockKey, type RunOptions } from './runner.js';
export { listTasks, getTask, taskLog, cancelTask, resolveTaskId, type TaskDetail, type TaskLogLine, type ListOptions } from './store.js';
