import { randomUUID } from 'node:crypto';
import { expect } from 'vitest';
import type { TestDatabase } from '../support/test-database.js';
import { RFC3339_UTC } from './toolchain.js';

/**
 * A task in status failed, made the way processors make one (through the
 * trigger's arrows: pending -> processing -> failed), for a round-trip
 * program to retry.
 */
export async function failedTask(database: TestDatabase, content: string): Promise<string> {
  const id = randomUUID();
  await database.query(`insert into task (id, content, status, attempt) values ($1, $2, 'pending', 0)`, [id, content]);
  await database.query(`update task set status = 'processing', attempt = 1, updated_at = clock_timestamp() where id = $1`, [id]);
  await database.query(`update task set status = 'failed', error = 'refused on purpose', failed_attempts = 1 where id = $1`, [id]);
  return id;
}

/**
 * Checks the RetryTask part of a round-trip report: the canceled task's retry
 * was refused with FAILED_PRECONDITION (as the language spells it), and the
 * failed task came back pending, its attempts reset (its queuing is
 * checked by task-api's own tests: the relay may have published it already).
 */
export async function expectRetryReport(stdout: string, failedId: string, failedPrecondition: string, database: TestDatabase): Promise<void> {
  const report = JSON.parse(stdout);
  expect(report.retry_canceled).toBe(failedPrecondition);
  expect(report.retried).toEqual({
    id: failedId,
    content: expect.any(String),
    status: 'TASK_STATUS_PENDING',
    created_at: expect.stringMatching(RFC3339_UTC),
    updated_at: expect.stringMatching(RFC3339_UTC),
  });
  const rows = await database.query(
    `select status, attempt, failed_attempts, error from task where id = $1`,
    [failedId],
  );
  expect(rows).toEqual([{ status: 'pending', attempt: 0, failed_attempts: 0, error: null }]);
}
