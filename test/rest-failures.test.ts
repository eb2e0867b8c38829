import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type RunningGateway } from '@taskproc/gateway';
import { readProcessorConfig, startProcessor, type Processor } from '@taskproc/processor';
import { createLogger } from '@taskproc/core';
import { RestClient } from './rest/rest-client.js';
import { startTaskApiHarness, type TaskApiHarness } from './support/task-api-harness.js';
import { loadTestEnv } from './support/test-env.js';
import { waitFor } from './support/wait-for.js';

// A failing task through REST, as `make start` with the fail-on-purpose
// example handler shows it: the embedded gateway in front of a real
// task-api and a processor running examples/handlers/fail-on-purpose.ts.

const TASK_KEYS = ['id', 'content', 'status', 'created_at', 'updated_at'];

let harness: TaskApiHarness;
let processor: Processor;
let gateway: RunningGateway;
let rest: RestClient;

beforeAll(async () => {
  harness = await startTaskApiHarness('rest_failures');
  const env = loadTestEnv();
  const config = readProcessorConfig({
    ...env,
    DATABASE_URL: harness.database.url,
    QUEUE_NAMESPACE: harness.config.queueNamespace,
    TASK_HANDLER: 'examples/handlers/fail-on-purpose.ts',
    TASK_MAX_ATTEMPTS: '2',
    TASK_RETRY_BASE_MS: '50',
  });
  processor = await startProcessor(config, createLogger('processor', config.logLevel));
  gateway = await startGateway({ host: '127.0.0.1', port: 0, upstreamUrl: harness.api.url, logLevel: 'silent' }, { logger: createLogger('gateway', 'silent') });
  rest = new RestClient(gateway.url);
}, 60_000);

afterAll(async () => {
  await gateway?.close();
  await processor?.close();
  await harness?.close();
});

const read = (id: string) => async () => (await rest.getTask(id)).json as Record<string, unknown>;

describe('a failing task over REST', () => {
  it('ends failed with its error; PATCH /task/{id}/retry brings it back to pending and it is tried again', async () => {
    const created = await rest.createTask('fail: the image is corrupt');
    expect(created.status).toBe(201);
    const id = created.json.id as string;

    const failed = await waitFor(read(id), (t) => t.status === 'failed', { timeoutMs: 20_000, description: 'failed' });
    expect(Object.keys(failed)).toEqual([...TASK_KEYS, 'error']);
    expect(failed.error).toBe('refused on purpose: the content starts with "fail"');

    const retried = await rest.send('PATCH', `/task/${id}/retry`);
    expect(retried.status).toBe(200);
    expect(Object.keys(retried.json)).toEqual(TASK_KEYS); // no error: it is pending again
    expect(retried.json.status).toBe('pending');

    // It fails again (the handler always refuses this content), after its attempts anew.
    await waitFor(read(id), (t) => t.status === 'failed', { timeoutMs: 20_000, description: 'failed again' });
    const attempts = await harness.database.query(`select count(*)::int as n from task_transition where task_id = $1 and to_status = 'processing'`, [id]);
    expect(attempts).toEqual([{ n: 4 }]);
  });

  it('shows no error key on a task that failed once and then completed', async () => {
    const id = (await rest.createTask('flaky:1')).json.id as string;
    const completed = await waitFor(read(id), (t) => t.status === 'completed', { timeoutMs: 20_000, description: 'completed' });
    expect(Object.keys(completed)).toEqual(TASK_KEYS);
  });

  it('answers 400 FAILED_PRECONDITION naming the status for a retry of a task that is not failed, 404 for no such task', async () => {
    const id = (await rest.createTask('fine')).json.id as string;
    await waitFor(read(id), (t) => t.status === 'completed', { timeoutMs: 20_000, description: 'completed' });
    const refused = await rest.send('PATCH', `/task/${id}/retry`);
    expect(refused.status).toBe(400);
    expect(refused.json).toEqual({ code: 9, message: expect.stringContaining('is completed, not failed'), details: [] });
    const missing = await rest.send('PATCH', '/task/0193f1f2-7c1e-7a55-9a0e-3f2b1c4d5e6f/retry');
    expect(missing.status).toBe(404);
    expect(missing.json.code).toBe(5);
    const malformed = await rest.send('PATCH', '/task/nope/retry');
    expect(malformed.status).toBe(400);
    expect(malformed.json.code).toBe(3);
  });
});
