import { TaskStatus, type Task } from '@taskproc/contract';
import { millisOf } from './time.js';

// Keeps a page of ListTasks (newest first: created_at, then id, both
// descending) up to date with the changes WatchTasks reports, without
// asking the server again: a changed row is replaced, a row that left the
// filter is removed, and a task that now belongs on this page is put in its
// place. A task newer than the page's first row belongs on it only when it is
// the first page; one older than its last row only when there is no next page
// (otherwise the next page token, which continues after the last row the
// server sent, will bring it).

export interface PageView {
  tasks: Task[];
  /** The page is the first (no page token). */
  first: boolean;
  /** The server said there is a next page. */
  hasNext: boolean;
  /** TaskStatus.UNSPECIFIED for all. */
  filter: TaskStatus;
}

/** Descending order key: compare two tasks as ListTasks orders them (negative: a comes first). */
export function compareNewestFirst(a: Task, b: Task): number {
  const byTime = (millisOf(b.createdAt) ?? 0) - (millisOf(a.createdAt) ?? 0);
  if (byTime !== 0) return byTime;
  // Microseconds are lost in millis; the ids are time-ordered UUIDv7s, so
  // they break the tie as the server's id ordering does.
  return a.id < b.id ? 1 : a.id > b.id ? -1 : 0;
}

export function mergeIntoPage(page: PageView, task: Task): Task[] {
  const at = page.tasks.findIndex((row) => row.id === task.id);
  const matches = page.filter === TaskStatus.UNSPECIFIED || task.status === page.filter;
  if (at >= 0) {
    if (!matches) return [...page.tasks.slice(0, at), ...page.tasks.slice(at + 1)];
    const next = page.tasks.slice();
    next[at] = task;
    return next;
  }
  if (!matches) return page.tasks;
  const first = page.tasks[0];
  const last = page.tasks[page.tasks.length - 1];
  if (first && compareNewestFirst(task, first) < 0 && !page.first) return page.tasks;
  if (last && compareNewestFirst(task, last) > 0 && page.hasNext) return page.tasks;
  if (!first && !page.first) return page.tasks;
  const next = page.tasks.slice();
  const position = next.findIndex((row) => compareNewestFirst(task, row) < 0);
  next.splice(position < 0 ? next.length : position, 0, task);
  return next;
}
