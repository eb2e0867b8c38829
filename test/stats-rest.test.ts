import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RestClient } from './rest/rest-client.js';
import { startRestSystem, type RestSystem } from './rest/rest-system.js';
import { waitFor } from './support/wait-for.js';

// GET /stats (GetTaskStats through the gateway, routed by its annotation):
// an Envoy when REST_BASE_URL is set, otherwise the embedded gateway in front
// of a real task-api and processor.

let system: RestSystem;
let rest: RestClient;

beforeAll(async () => {
  system = await startRestSystem('stats_rest');
  rest = new RestClient(system.baseUrl, system.headers);
}, 60_000);

afterAll(async () => {
  await system?.close();
});

/** Counts by lower-case status name, whichever spelling of the enum the body uses. */
function countsOf(json: { counts: { status: string; count: string | number }[] }): Record<string, number> {
  return Object.fromEntries(json.counts.map((c) => [c.status.toLowerCase().replace(/^task_status_/, ''), Number(c.count)]));
}

describe('GET /stats', () => {
  it('answers 200 JSON with a count per status, the outbox, dead letters and processors', async () => {
    const created = await rest.createTask('counted by GET /stats');
    expect(created.status).toBe(201);
    expect((await rest.cancelTask(created.json.id)).status).toBe(200);
    const answer = await waitFor(
      () => rest.send('GET', '/stats'),
      (a) => a.status === 200 && Number(a.json.processors) >= 1 && countsOf(a.json).canceled! >= 1,
      { description: 'stats that see the processor and the canceled task', timeoutMs: 20_000 },
    );
    expect(answer.contentType).toMatch(/^application\/json/);
    expect(Object.keys(countsOf(answer.json))).toEqual(['pending', 'processing', 'completed', 'canceled', 'failed']);
    expect(Object.keys(answer.json)).toEqual(expect.arrayContaining(['counts', 'outbox_backlog', 'dead_lettered', 'processors', 'broker_error']));
    expect(answer.json.broker_error).toBe('');
    expect(Number(answer.json.dead_lettered)).toBe(0);
    expect(Number(answer.json.outbox_backlog)).toBeGreaterThanOrEqual(0);
  });

});
