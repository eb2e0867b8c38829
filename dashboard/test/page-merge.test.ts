import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { TaskSchema, TaskStatus, type Task } from '@taskproc/contract';
import { describe, expect, it } from 'vitest';
import { mergeIntoPage, type PageView } from '../src/page-merge.js';

const T0 = 1_764_576_000_000;

function task(n: number, status = TaskStatus.PENDING): Task {
  // Ids sort as their creation times do (UUIDv7-like).
  return create(TaskSchema, { id: `id-${String(n).padStart(3, '0')}`, status, createdAt: timestampFromMs(T0 + n * 1000) });
}

/** A page of tasks n..m, newest first. */
function page(numbers: number[], options: Partial<PageView> = {}): PageView {
  return { tasks: numbers.map((n) => task(n)), first: true, hasNext: false, filter: TaskStatus.UNSPECIFIED, ...options };
}

const ids = (tasks: Task[]) => tasks.map((t) => t.id);

describe('mergeIntoPage', () => {
  it('puts a new task on top of the first page', () => {
    expect(ids(mergeIntoPage(page([5, 4, 3]), task(6)))).toEqual(['id-006', 'id-005', 'id-004', 'id-003']);
  });

  it('leaves later pages alone when a newer task arrives (it belongs on page 1)', () => {
    expect(ids(mergeIntoPage(page([5, 4, 3], { first: false }), task(6)))).toEqual(['id-005', 'id-004', 'id-003']);
  });

  it('replaces a row in place when its task changes', () => {
    const merged = mergeIntoPage(page([5, 4, 3]), task(4, TaskStatus.COMPLETED));
    expect(ids(merged)).toEqual(['id-005', 'id-004', 'id-003']);
    expect(merged[1]!.status).toBe(TaskStatus.COMPLETED);
  });

  it('removes a row that left the filter, and adds one that entered it where it sorts', () => {
    const pending = page([5, 4, 3], { filter: TaskStatus.PENDING });
    expect(ids(mergeIntoPage(pending, task(4, TaskStatus.PROCESSING)))).toEqual(['id-005', 'id-003']);
    const completed = page([9, 2], { filter: TaskStatus.COMPLETED, hasNext: false });
    completed.tasks = completed.tasks.map((t) => ({ ...t, status: TaskStatus.COMPLETED }));
    expect(ids(mergeIntoPage(completed, task(5, TaskStatus.COMPLETED)))).toEqual(['id-009', 'id-005', 'id-002']);
    expect(ids(mergeIntoPage(completed, task(5, TaskStatus.FAILED)))).toEqual(['id-009', 'id-002']);
  });

  it('leaves a task older than the last row to the next page when there is one', () => {
    expect(ids(mergeIntoPage(page([5, 4], { hasNext: true }), task(1)))).toEqual(['id-005', 'id-004']);
    expect(ids(mergeIntoPage(page([5, 4], { hasNext: false }), task(1)))).toEqual(['id-005', 'id-004', 'id-001']);
  });

  it('fills an empty first page, but not an empty later one', () => {
    expect(ids(mergeIntoPage(page([]), task(1)))).toEqual(['id-001']);
    expect(ids(mergeIntoPage(page([], { first: false }), task(1)))).toEqual([]);
  });

  it('breaks a tie of creation times by id, descending, as the server does', () => {
    const same = (id: string) => create(TaskSchema, { id, status: TaskStatus.PENDING, createdAt: timestampFromMs(T0) });
    const merged = mergeIntoPage({ tasks: [same('b'), same('a')], first: true, hasNext: false, filter: TaskStatus.UNSPECIFIED }, same('ab'));
    expect(ids(merged)).toEqual(['b', 'ab', 'a']);
  });
});
