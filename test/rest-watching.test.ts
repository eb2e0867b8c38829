import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readEventStream, taskOf } from './rest/event-stream-client.js';
import { RestClient } from './rest/rest-client.js';
import { startRestSystem, type RestSystem } from './rest/rest-system.js';
import { waitFor } from './support/wait-for.js';

// GET /tasks, GET /task/{id}/events and GET /task/{id}/watch (Server-Sent
// Events) through the gateway, against a real task-api, processor,
// PostgreSQL and RabbitMQ (or the Envoy named by REST_BASE_URL).

const TASK_KEYS = ['id', 'content', 'status', 'created_at', 'updated_at'];
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;
const NO_SUCH_TASK = '0193f1f2-7c1e-7a55-9a0e-3f2b1c4d5e6f';

let system: RestSystem;
let rest: RestClient;

beforeAll(async () => {
  system = await startRestSystem('rest_watching');
  rest = new RestClient(system.baseUrl, system.headers);
}, 60_000);

afterAll(async () => {
  await system?.close();
});

async function created(content: string): Promise<string> {
  const answer = await rest.createTask(content);
  expect(answer.status).toBe(201);
  return answer.json.id as string;
}

const watchUrl = (id: string) => `${system.baseUrl}/task/${id}/watch`;

describe('GET /tasks', () => {
  it('answers {"tasks":[...],"next_page_token":"..."} newest first, "" on the last page', async () => {
    const ids = [await created('list a'), await created('list b'), await created('list c')];
    const first = await rest.send('GET', '/tasks?page_size=2');
    expect(first.status).toBe(200);
    expect(first.contentType).toMatch(/^application\/json/);
    expect(Object.keys(first.json)).toEqual(['tasks', 'next_page_token']);
    expect(first.json.tasks.map((t: { id: string }) => t.id)).toEqual([ids[2], ids[1]]);
    for (const task of first.json.tasks) {
      expect(Object.keys(task)).toEqual(TASK_KEYS);
      expect(task.created_at).toMatch(TIMESTAMP);
      expect(['pending', 'processing', 'completed']).toContain(task.status);
    }
    expect(first.json.next_page_token).not.toBe('');
    const rest2 = await rest.send('GET', `/tasks?page_size=1000&page_token=${encodeURIComponent(first.json.next_page_token)}`);
    expect(rest2.json.tasks.map((t: { id: string }) => t.id)).toContain(ids[0]);
    expect(rest2.json.next_page_token).toBe('');
  });

  it('filters by the lower-case status name', async () => {
    const id = await created('to cancel');
    expect((await rest.cancelTask(id)).status).toBe(200);
    const answer = await rest.send('GET', '/tasks?status=canceled');
    expect(answer.status).toBe(200);
    expect(answer.json.tasks.length).toBeGreaterThan(0);
    expect(answer.json.tasks.every((t: { status: string }) => t.status === 'canceled')).toBe(true);
    expect(answer.json.tasks[0].id).toBe(id);
  });

  it.each([
    ['status=bogus', /status/],
    ['status=PENDING', /status/],
    ['page_size=ten', /page_size/],
    ['page_size=-1', /page_size/],
    ['page_token=forged', /page_token/],
  ])('answers 400 naming the parameter for %s', async (query, message) => {
    const answer = await rest.send('GET', `/tasks?${query}`);
    expect(answer.status).toBe(400);
    expect(answer.json).toMatchObject({ code: 3, details: [] });
    expect(answer.json.message).toMatch(message);
  });
});

describe('GET /task/{id}/events', () => {
  it('answers the history oldest first, with attempts and errors', async () => {
    const id = await created('events');
    await waitFor(async () => (await rest.getTask(id)).json.status, (s) => s === 'completed', { timeoutMs: 30_000, description: 'completed' });
    const answer = await rest.send('GET', `/task/${id}/events`);
    expect(answer.status).toBe(200);
    expect(Object.keys(answer.json)).toEqual(['events']);
    expect(answer.json.events.map((e: { status: string; attempt: number }) => `${e.status}/${e.attempt}`)).toEqual(['pending/0', 'processing/1', 'completed/1']);
    for (const event of answer.json.events) {
      expect(Object.keys(event)).toEqual(['status', 'attempt', 'at', 'error']);
      expect(event.at).toMatch(TIMESTAMP);
      expect(event.error).toBeNull();
    }
    expect((await rest.send('GET', `/task/${NO_SUCH_TASK}/events`)).status).toBe(404);
    expect((await rest.send('GET', '/task/nope/events')).status).toBe(400);
  });
});

describe('GET /task/{id}/watch', () => {
  it('streams the task now, then every change, as text/event-stream, and ends after completed', async () => {
    const id = await created('watched');
    const answer = await readEventStream(watchUrl(id));
    expect(answer.status).toBe(200);
    expect(answer.contentType).toMatch(/^text\/event-stream/);
    const events = answer.frames.filter((frame) => frame.startsWith('data: '));
    for (const frame of events) expect(frame).toMatch(/^data: \{[^\n]*\}\n\n$/);
    const tasks = events.map(taskOf);
    // A watch that starts while the processor already claimed it begins at processing.
    expect(tasks.map((t) => t.status).join(',')).toMatch(/^(pending,)?processing,completed$/);
    for (const task of tasks) expect(Object.keys(task)).toEqual(TASK_KEYS);
    expect(tasks.at(-1)).toEqual((await rest.getTask(id)).json);
  });

  it('ends with canceled when the task is canceled while processing', async () => {
    const id = await created('cancel while watched');
    const answer = await readEventStream(watchUrl(id), async (frame) => {
      if (taskOf(frame)?.status === 'processing') expect((await rest.cancelTask(id)).status).toBe(200);
    });
    const statuses = answer.frames.map(taskOf).filter(Boolean).map((t) => t.status);
    expect(statuses.at(-1)).toBe('canceled');
    expect(statuses).toContain('processing');
    expect(statuses).not.toContain('completed');
  });

  it('gives a watcher that comes after the end one event, then ends', async () => {
    const id = await created('late');
    await rest.cancelTask(id);
    const answer = await readEventStream(watchUrl(id));
    expect(answer.frames.map(taskOf).map((t) => t?.status)).toEqual(['canceled']);
  });

  it('answers plain JSON errors before any event: 404 for a missing task, 400 for a malformed id', async () => {
    const missing = await readEventStream(watchUrl(NO_SUCH_TASK));
    expect(missing.status).toBe(404);
    expect(missing.contentType).toMatch(/^application\/json/);
    expect(missing.error).toMatchObject({ code: 5, details: [] });
    const malformed = await readEventStream(watchUrl('not-a-uuid'));
    expect(malformed.status).toBe(400);
    expect(malformed.error).toMatchObject({ code: 3, details: [] });
  });
});
