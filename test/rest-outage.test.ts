import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RestClient, type RestAnswer } from './rest/rest-client.js';
import { startRestSystem, type RestSystem } from './rest/rest-system.js';
import { waitFor } from './support/wait-for.js';

// The REST contract's 503 row: while task-api cannot reach its database,
// POST /task and GET /health answer 503 UNAVAILABLE (a Status body, code 14)
// — promptly, never 500 and never the gateway's 504 — and serve again once
// it is back. Making that happen needs a fault done to task-api alone, so
// this suite always runs a system of its own (embedded gateway, task-api,
// processor), also when REST_BASE_URL names a deployed one.

let system: RestSystem;
let rest: RestClient;

beforeAll(async () => {
  system = await startRestSystem('rest_outage', { ownSystem: true });
  rest = new RestClient(system.baseUrl, system.headers);
}, 60_000);

afterAll(async () => {
  await system?.close();
});

function expectUnavailable(answer: RestAnswer) {
  expect(answer.status).toBe(503);
  expect(answer.contentType).toMatch(/^application\/json/);
  expect(answer.json).toMatchObject({ code: 14, details: [] });
  expect(answer.text).not.toMatch(/\bat .+:\d+|SELECT|INSERT|postgres|ECONN|timeout expired|Query read timeout/i);
}

async function recovered() {
  await waitFor(() => rest.send('GET', '/health'), (answer) => answer.status === 200, {
    timeoutMs: 30_000,
    description: 'GET /health 200 once the database is back',
  });
  expect((await rest.createTask('after the outage')).status).toBe(201);
}

describe('database unavailable', () => {
  it('refused connections: POST /task and GET /health answer 503 UNAVAILABLE, and recover', async () => {
    const fault = system.databaseFault!;
    fault.block();
    try {
      const health = await waitFor(() => rest.send('GET', '/health'), (answer) => answer.status === 503, {
        description: 'GET /health 503 while the database is blocked',
      });
      expectUnavailable(health);
      expectUnavailable(await rest.createTask('no database'));
    } finally {
      fault.unblock();
    }
    await recovered();
  });

  it('a silent blackhole: POST /task, GET /task and GET /health answer 503, not 500 or 504, and recover', { timeout: 90_000 }, async () => {
    const { json: existing } = await rest.createTask('before the blackhole');
    const fault = system.databaseFault!;
    fault.stall();
    try {
      const answers = await Promise.all([
        ...Array.from({ length: 5 }, (_, i) => rest.createTask(`during the blackhole ${i}`)),
        rest.getTask(existing.id as string),
        rest.send('GET', '/health'),
      ]);
      for (const answer of answers) expectUnavailable(answer);
    } finally {
      fault.unstall();
    }
    await recovered();
  });
});
