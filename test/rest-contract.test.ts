import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RestClient, type RestAnswer } from './rest/rest-client.js';
import { startRestSystem, type RestSystem } from './rest/rest-system.js';
import { waitFor } from './support/wait-for.js';

// The REST API (docs/api.md, "REST routes"), row by row, against a
// running system: an Envoy when REST_BASE_URL is set (the docker compose
// test stack), otherwise the embedded gateway in front of a real task-api
// and processor started here. Field names, value formats and error bodies
// are checked exactly, since clients parse them.

const TASK_KEYS = ['id', 'content', 'status', 'created_at', 'updated_at'];
const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
const NO_SUCH_TASK = '0193f1f2-7c1e-7a55-9a0e-3f2b1c4d5e6f';
// What must never reach a client: stack frames, SQL, driver or proxy internals.
const INTERNALS = /\bat .+:\d+|Error:|SELECT|INSERT|UPDATE |postgres|ECONN|amqp|upstream connect|reset reason/i;

let system: RestSystem;
let rest: RestClient;

beforeAll(async () => {
  system = await startRestSystem('rest_contract');
  rest = new RestClient(system.baseUrl, system.headers);
}, 60_000);

afterAll(async () => {
  await system?.close();
});

function expectTask(answer: RestAnswer, expected: { status: string | string[]; content?: string }) {
  expect(answer.contentType).toMatch(/^application\/json/);
  expect(Object.keys(answer.json)).toEqual(TASK_KEYS);
  expect(answer.json.id).toMatch(UUID_V7);
  if (Array.isArray(expected.status)) expect(expected.status).toContain(answer.json.status);
  else expect(answer.json.status).toBe(expected.status);
  if (expected.content !== undefined) expect(answer.json.content).toBe(expected.content);
  expect(answer.json.created_at).toMatch(TIMESTAMP);
  if (answer.json.updated_at !== null) {
    expect(answer.json.updated_at).toMatch(TIMESTAMP);
    expect(answer.json.updated_at >= answer.json.created_at).toBe(true);
  }
}

function expectError(answer: RestAnswer, httpStatus: number, code: number, message?: RegExp) {
  expect(answer.status).toBe(httpStatus);
  expect(answer.contentType).toMatch(/^application\/json/);
  expect(Object.keys(answer.json)).toEqual(['code', 'message', 'details']);
  expect(answer.json.code).toBe(code);
  expect(typeof answer.json.message).toBe('string');
  expect(answer.json.details).toEqual([]);
  if (message) expect(answer.json.message).toMatch(message);
  expect(answer.text).not.toMatch(INTERNALS);
}

async function createdTask(content = 'contract'): Promise<string> {
  const answer = await rest.createTask(content);
  expect(answer.status).toBe(201);
  return answer.json.id as string;
}

function statusOf(id: string) {
  return async () => (await rest.getTask(id)).json as { status: string; updated_at: string | null };
}

describe('POST /task', () => {
  it('answers 201 with the task: snake_case keys, pending, microsecond UTC timestamps, updated_at null', async () => {
    const answer = await rest.createTask('resize image 42');
    expect(answer.status).toBe(201);
    expectTask(answer, { status: 'pending', content: 'resize image 42' });
    expect(answer.json.updated_at).toBeNull();
    expect(answer.text).toContain('"updated_at":null');
  });

  it('stores content exactly, whatever it contains', async () => {
    const content = '{"status":"TASK_STATUS_COMPLETED","updated_at":"2024-10-28T08:04:08Z"} <b>&</b> "quoted" \\ \n\t ünïcödé 😀 \u2028';
    const created = await rest.createTask(content);
    expectTask(created, { status: 'pending', content });
    const fetched = await rest.getTask(created.json.id);
    expect(fetched.status).toBe(200);
    expect(fetched.json.content).toBe(content);
  });

  it('accepts content of exactly 65,536 UTF-8 bytes, counting bytes rather than characters', async () => {
    expect((await rest.createTask('x'.repeat(65_536))).status).toBe(201);
    expect((await rest.createTask('€'.repeat(21_845) + 'x')).status).toBe(201); // 3 × 21,845 + 1 bytes
  });

  it.each([
    ['content missing', '{}'],
    ['content null', '{"content":null}'],
    ['content empty', '{"content":""}'],
    ['content over 65,536 bytes', JSON.stringify({ content: 'x'.repeat(65_537) })],
    ['content over 65,536 bytes in multi-byte characters', JSON.stringify({ content: '€'.repeat(21_846) })],
  ])('answers 400 INVALID_ARGUMENT for %s', async (_name, body) => {
    expectError(await rest.send('POST', '/task', { body }), 400, 3);
  });

  it.each([
    ['a body that is not JSON', 'resize image 42'],
    ['truncated JSON', '{"content": "x"'],
    ['content not a string', '{"content": 42}'],
    ['content an object', '{"content": {"text": "x"}}'],
    ['a JSON array', '["x"]'],
    ['an unknown field', '{"content": "x", "priority": 1}'],
  ])('answers 400 INVALID_ARGUMENT for %s', async (_name, body) => {
    expectError(await rest.send('POST', '/task', { body }), 400, 3);
  });

  it('answers 413 for a body over 1 MiB, with a Status body', async () => {
    const answer = await rest.send('POST', '/task', { body: JSON.stringify({ content: 'x'.repeat(1_048_576) }) });
    expectError(answer, 413, 8);
  });

  it('reads the body as JSON whatever the content type says: a JSON body is accepted, anything else is 400', async () => {
    const asText = await rest.send('POST', '/task', { body: '{"content":"labelled text/plain"}', contentType: 'text/plain' });
    expect(asText.status).toBe(201);
    expectTask(asText, { status: 'pending', content: 'labelled text/plain' });
    const form = await rest.send('POST', '/task', { body: 'content=hi', contentType: 'application/x-www-form-urlencoded' });
    expectError(form, 400, 3);
  });
});

describe('GET /task/{task_id}', () => {
  it('answers 200 with the task', async () => {
    const created = await rest.createTask('look me up');
    expect(created.status).toBe(201);
    const answer = await rest.getTask(created.json.id as string);
    expect(answer.status).toBe(200);
    // The processor may have taken it meanwhile; nothing else may have happened to it.
    expectTask(answer, { status: ['pending', 'processing', 'completed'], content: 'look me up' });
    expect(answer.json.id).toBe(created.json.id);
    expect(answer.json.created_at).toBe(created.json.created_at);
  });

  it('answers 400 INVALID_ARGUMENT when task_id is not a UUID', async () => {
    expectError(await rest.getTask('not-a-uuid'), 400, 3, /task_id/);
  });

  it('answers 404 NOT_FOUND for no such task', async () => {
    expectError(await rest.getTask(NO_SUCH_TASK), 404, 5);
  });
});

describe('PATCH /task/{task_id}/cancel', () => {
  it('answers 200 with the task canceled and updated_at set', async () => {
    const id = await createdTask('cancel me');
    const answer = await rest.cancelTask(id);
    expect(answer.status).toBe(200);
    expectTask(answer, { status: 'canceled', content: 'cancel me' });
    expect(answer.json.updated_at).toMatch(TIMESTAMP);
  });

  it('answers 400 FAILED_PRECONDITION naming the status when the task is already canceled', async () => {
    const id = await createdTask();
    expect((await rest.cancelTask(id)).status).toBe(200);
    expectError(await rest.cancelTask(id), 400, 9, /canceled/);
  });

  it('answers 400 INVALID_ARGUMENT when task_id is not a UUID', async () => {
    expectError(await rest.cancelTask('42'), 400, 3, /task_id/);
  });

  it('answers 404 NOT_FOUND for no such task', async () => {
    expectError(await rest.cancelTask(NO_SUCH_TASK), 404, 5);
  });
});

describe('GET /health', () => {
  it('answers 200 {"status":"ok"} while the database is reachable', async () => {
    const answer = await rest.send('GET', '/health');
    expect(answer.status).toBe(200);
    expect(answer.contentType).toMatch(/^application\/json/);
    expect(answer.json).toEqual({ status: 'ok' });
  });
});

describe('unknown routes and methods', () => {
  it.each([
    ['GET', '/'],
    ['GET', '/jobs'],
    ['GET', '/task'],
    ['PUT', '/task'],
    ['DELETE', `/task/${NO_SUCH_TASK}`],
    ['POST', `/task/${NO_SUCH_TASK}/cancel`],
    ['GET', `/task/${NO_SUCH_TASK}/cancel`],
    ['GET', `/task/${NO_SUCH_TASK}/extra`],
  ])('%s %s answers 404 with a Status body', async (method, path) => {
    expectError(await rest.send(method, path), 404, 5);
  });
});

describe('life cycle through REST', () => {
  it('goes pending -> processing -> completed, updated_at following each change; a completed task cannot be canceled', async () => {
    const created = await rest.createTask('work through');
    expect(created.json.status).toBe('pending');
    const id = created.json.id as string;
    const timeoutMs = system.processingDurationMs * 4 + 10_000;

    const processing = await waitFor(statusOf(id), (task) => task.status === 'processing', { timeoutMs, description: `task ${id} processing` });
    expect(processing.updated_at).toMatch(TIMESTAMP);
    const completed = await waitFor(statusOf(id), (task) => task.status === 'completed', { timeoutMs, description: `task ${id} completed` });
    expect(completed.updated_at! > processing.updated_at!).toBe(true);

    expectError(await rest.cancelTask(id), 400, 9, /completed/);
  });

  it('a task canceled while processing stays canceled', async () => {
    const id = await createdTask('cancel while processing');
    const timeoutMs = system.processingDurationMs * 4 + 10_000;
    await waitFor(statusOf(id), (task) => task.status === 'processing', { timeoutMs, description: `task ${id} processing` });

    const canceled = await rest.cancelTask(id);
    expect(canceled.status).toBe(200);
    expectTask(canceled, { status: 'canceled' });

    // Watch it past the time the processor would have completed it.
    const watchUntil = Date.now() + system.processingDurationMs * 2;
    const seen = new Set<string>();
    await waitFor(
      async () => {
        seen.add((await statusOf(id)()).status);
        return Date.now() >= watchUntil;
      },
      Boolean,
      { timeoutMs: system.processingDurationMs * 2 + 5_000, intervalMs: 50, description: 'the watch period to pass' },
    );
    expect([...seen]).toEqual(['canceled']);
  });
});

// The 503 row (database unavailable) needs a fault made to task-api alone,
// so it lives in rest-outage.test.ts, which always runs a system of its own.
