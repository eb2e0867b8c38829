import { expect } from 'vitest';
import type { TestDatabase } from '../support/test-database.js';
import { RFC3339_UTC, UUID } from './toolchain.js';

/** How a language's SDK spells the codes the create-options part of a round-trip program provokes. */
export interface CreateOptionsCodeNames {
  alreadyExists: string;
  invalidArgument: string;
}

/**
 * Checks the "create_options" part of an SDK round-trip report: a repeated
 * request_id gave the first task, reusing it with other content was
 * ALREADY_EXISTS, a scheduled task came back pending with its schedule_time
 * (and its queue entry waits for it), a batch of three came back in order,
 * and an empty batch was INVALID_ARGUMENT; the database agrees.
 */
export async function expectCreateOptionsReport(
  stdout: string,
  content: string,
  codes: CreateOptionsCodeNames,
  database: TestDatabase,
): Promise<void> {
  const options = JSON.parse(stdout).create_options;
  expect(options.first_id).toMatch(UUID);
  expect(options.repeat_id).toBe(options.first_id);
  expect(options.conflict).toBe(codes.alreadyExists);
  expect(options.scheduled).toMatchObject({ content: `${content} later`, status: 'TASK_STATUS_PENDING', schedule_time: expect.stringMatching(RFC3339_UTC) });
  expect(options.batch.map((task: { content: string }) => task.content)).toEqual([0, 1, 2].map((i) => `${content} #${i}`));
  expect(options.batch_empty).toBe(codes.invalidArgument);

  const keyed = await database.query<{ n: string }>('select count(*) as n from task where content = $1', [content]);
  // The round trip's own create plus the keyed one; the repeat and the conflict created nothing.
  expect(keyed).toEqual([{ n: '2' }]);
  const [scheduled] = await database.query<{ id: string; waits: boolean; same: boolean }>(
    `select t.id, o.not_before > now() as waits, t.schedule_time = $2::timestamptz as same
       from task t join outbox o on o.task_id = t.id where t.id = $1`,
    [options.scheduled.id, options.scheduled.schedule_time],
  );
  expect(scheduled).toEqual({ id: options.scheduled.id, waits: true, same: true });
}
