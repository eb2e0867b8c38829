import { Counter, Histogram, type Registry } from 'prom-client';
import type { TaskStatusName } from '../status.js';
import type { Task } from '../db/task.entity.js';
import type { TaskStoreObserver } from '../db/task-store.js';

// From a quick task to a long queue wait: time from create to a final status.
const LIFE_BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];

/**
 * Task counts as this process commits them (see TaskStoreObserver): each
 * create and each change of status is counted once, by the process whose
 * statement committed it, so sums over every task-api and processor replica
 * match the database. Shared by the task-api and the processor.
 */
export function taskStoreMetrics(registry: Registry): TaskStoreObserver {
  const created = new Counter({
    name: 'taskproc_tasks_created_total',
    help: 'Tasks created (committed with their outbox entry) by this process.',
    registers: [registry],
  });
  const transitions = new Counter({
    name: 'taskproc_task_transitions_total',
    help: 'Changes of task status committed by this process, by the status reached.',
    labelNames: ['status'],
    registers: [registry],
  });
  const timeToFinal = new Histogram({
    name: 'taskproc_task_time_to_final_status_seconds',
    help: "Time from a task's create to its final status (database clock), by that status.",
    labelNames: ['status'],
    buckets: LIFE_BUCKETS,
    registers: [registry],
  });
  const attempts = new Histogram({
    name: 'taskproc_task_attempts',
    help: 'Attempts (claims) a task took, observed when it completed.',
    buckets: [1, 2, 3, 5, 10, 20],
    registers: [registry],
  });
  return {
    created: (tasks: readonly Task[]) => created.inc(tasks.length),
    transitioned(status: TaskStatusName, tasks) {
      transitions.inc({ status }, tasks.length);
      if (status === 'pending' || status === 'processing') return;
      for (const task of tasks) {
        if (task.updatedAt) timeToFinal.observe({ status }, Math.max(0, Date.parse(task.updatedAt) - Date.parse(task.createdAt)) / 1000);
        if (status === 'completed') attempts.observe(task.attempt);
      }
    },
  };
}

