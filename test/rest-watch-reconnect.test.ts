import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readEventStream, taskOf } from './rest/event-stream-client.js';
import { RestClient } from './rest/rest-client.js';
import { startRestSystem, type RestSystem } from './rest/rest-system.js';
import { waitFor } from './support/wait-for.js';

// A REST watch across a reconnect of task-api's listening connection. It
// terminates that connection's backend, so it always runs its own system
// (never the deployment REST_BASE_URL may name).

let system: RestSystem;
let rest: RestClient;

beforeAll(async () => {
  system = await startRestSystem('rest_watch_reconnect', { ownSystem: true });
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

describe('GET /task/{id}/watch across a reconnect', () => {
  it('loses no change when the listening connection is terminated mid-watch', async () => {
    const database = system.database!;
    const id = await created('watch through a reconnect');
    const answer = await readEventStream(watchUrl(id), async (_frame, index) => {
      if (index !== 0) return;
      // Terminate task-api's listening backend and, once it is gone, cancel
      // the task in the same transaction: no listener hears that change.
      const [row] = await database.query<{ status: string }>(
        `with gone as (select bool_and(pg_terminate_backend(pid, 5000)) as ok from pg_stat_activity
                        where datname = current_database() and application_name = 'taskproc-task-api-watch')
         update task set status = 'canceled', updated_at = clock_timestamp()
           from gone where id = $1 and gone.ok and status in ('pending', 'processing') returning status`,
        [id],
      );
      expect(row?.status).toBe('canceled');
    });
    const statuses = answer.frames.map(taskOf).filter(Boolean).map((t) => t.status);
    expect(statuses.at(-1)).toBe('canceled');
    expect(statuses.join(',')).toMatch(/^(pending,)?(processing,)?canceled$/);
  });
});
