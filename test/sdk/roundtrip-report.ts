import { expect } from 'vitest';
import type { TestDatabase } from '../support/test-database.js';
import { RFC3339_UTC, UUID } from './toolchain.js';

/** How a language's SDK spells the three gRPC codes the round-trip programs provoke. */
export interface CodeNames {
  failedPrecondition: string;
  notFound: string;
  invalidArgument: string;
}

/**
 * Checks the JSON report every SDK's round-trip example prints (created,
 * fetched, listed, watched, canceled, then the three refused calls), and that what the program
 * saw is what the service stored.
 */
export async function expectRoundtripReport(stdout: string, content: string, codes: CodeNames, database: TestDatabase): Promise<void> {
  const report = JSON.parse(stdout);
  const id: string = report.created.id;
  expect(id).toMatch(UUID);
  expect(report.created).toEqual({
    id,
    content,
    status: 'TASK_STATUS_PENDING',
    created_at: expect.stringMatching(RFC3339_UTC),
    updated_at: null,
  });
  expect(report.fetched).toEqual(report.created);
  expect(report.canceled).toEqual({
    ...report.created,
    status: 'TASK_STATUS_CANCELED',
    updated_at: expect.stringMatching(RFC3339_UTC),
  });
  expect(report.cancel_again).toBe(codes.failedPrecondition);
  expect(report.get_unknown).toBe(codes.notFound);
  expect(report.create_empty).toBe(codes.invalidArgument);
  // ListTasks (newest first: the task just created) and WatchTask (the task
  // as it was, then the cancel, then the end of the stream).
  expect(report.listed).toEqual([id]);
  expect(report.watched).toEqual(['TASK_STATUS_PENDING', 'TASK_STATUS_CANCELED']);
  // GetTaskStats counts the task the program canceled (and any other test's in this database).
  expect(Number(report.stats_canceled)).toBeGreaterThanOrEqual(1);

  const rows = await database.query('select content, status from task where id = $1', [id]);
  expect(rows).toEqual([{ content, status: 'canceled' }]);
}
