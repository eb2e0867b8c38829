import { randomBytes, randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { Broker } from '../lib/broker.js';
import { submitLoad } from '../lib/load.js';
import type { Scenario } from '../lib/scenario.js';

/** Bodies the processor cannot use, each kind several times. */
const POISON: (() => Buffer)[] = [
  () => Buffer.from('not json at all'),
  () => Buffer.from(''),
  () => Buffer.from('null'),
  () => Buffer.from('[1,2,3]'),
  () => Buffer.from('{"task_id": 42}'),
  () => Buffer.from('{"task_id": "not-a-uuid"}'),
  () => Buffer.from('{"taskId": "0193f1f2-7c1e-7a55-9a0e-3f2b1c4d5e6f"}'),
  // well formed, but no task has this id
  () => Buffer.from(JSON.stringify({ task_id: randomUUID() })),
  () => randomBytes(64),
  () => Buffer.from(`{"task_id": "${'x'.repeat(100_000)}"}`),
];
const ROUNDS = 6;

/**
 * Poison messages mixed into a healthy load. Each must end in the dead-letter
 * queue with an x-taskproc-reason header (the runner counts them against the
 * expected number and fails a dead letter without a reason), no processor may
 * crash, and every healthy task must complete.
 */
export const poisonMessages: Scenario = {
  id: '07-poison-messages',
  title: 'poison messages mixed into the load',
  async run(ctx) {
    const { system } = ctx;
    await system.startAll(2);
    const broker = await Broker.connect(ctx.infra.rabbit.amqpUrl, ctx.topology);
    let published = 0;
    try {
      const load = submitLoad(system.clients, ctx.record, ctx.topology.taskQueue, { count: 400, concurrency: 16, ratePerSecond: 60 });
      for (let round = 0; round < ROUNDS; round++) {
        for (const make of POISON) {
          await broker.publishToTaskQueue(make(), { messageId: `poison-${round}-${published}` });
          published++;
        }
        await delay(800);
      }
      await load;
    } finally {
      await broker.close();
    }
    ctx.expectDeadLettered(published);
    ctx.note(`${published} poison messages published among the healthy tasks`);
  },
};
