import { setTimeout as delay } from 'node:timers/promises';
import { encodeTaskMessage } from '@taskproc/core';
import { Broker } from '../lib/broker.js';
import { submitLoad } from '../lib/load.js';
import type { Scenario } from '../lib/scenario.js';

const DURATION_MS = 400;

/**
 * Every message delivered twice: for each acknowledged task the suite
 * publishes a copy of its message to the task queue (as a second relay would),
 * at a random moment between at once and 1.5 times the work, so copies land
 * before the original, while it is processing and after it completed. The
 * guarded claim makes every copy a no-op.
 */
export const duplicateDelivery: Scenario = {
  id: '06-duplicate-delivery',
  title: 'every message delivered twice (republished copies)',
  settings: { PROCESSING_DURATION_MS: String(DURATION_MS) },
  async run(ctx) {
    const { system } = ctx;
    await system.startAll(2);
    const broker = await Broker.connect(ctx.infra.rabbit.amqpUrl, ctx.topology);
    const copies: Promise<void>[] = [];
    let confirmed = 0;
    let failed = 0;
    try {
      await submitLoad(system.clients, ctx.record, ctx.topology.taskQueue, {
        count: 400,
        concurrency: 16,
        onAcknowledged: (taskId) => {
          copies.push(
            delay(Math.random() * DURATION_MS * 1.5)
              .then(() => broker.publishToTaskQueue(encodeTaskMessage(taskId), { messageId: taskId }))
              .then(
                () => void confirmed++,
                () => void failed++,
              ),
          );
        },
      });
      await Promise.all(copies);
    } finally {
      await broker.close();
    }
    ctx.note(`${confirmed} copies published and confirmed (one per acknowledged task)`);
    if (failed > 0) ctx.fail(`${failed} copies could not be published`);
  },
};
