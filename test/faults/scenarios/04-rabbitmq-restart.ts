import { setTimeout as delay } from 'node:timers/promises';
import { submitLoad } from '../lib/load.js';
import type { Scenario } from '../lib/scenario.js';

const OUTAGE_MS = 5_000;

/**
 * `rabbitmqctl stop_app` three seconds into the load, `start_app` five
 * seconds later. task-api must keep answering creates (the outbox holds
 * them); the relay and the processors reconnect on their own; everything
 * queued before and during the outage is completed afterwards.
 */
export const rabbitmqRestart: Scenario = {
  id: '04-rabbitmq-restart',
  title: 'RabbitMQ stopped and started during the load',
  async run(ctx) {
    const { system, infra } = ctx;
    await system.startAll(2);
    ctx.drainTimeoutMs = 60_000;
    const load = submitLoad(system.clients, ctx.record, ctx.topology.taskQueue, { count: 500, concurrency: 16, ratePerSecond: 40 });
    await delay(3_000);
    ctx.log('rabbitmqctl stop_app');
    const down = Date.now();
    await infra.rabbit.stopApp();
    await delay(OUTAGE_MS);
    const up = Date.now();
    ctx.log('rabbitmqctl start_app');
    await infra.rabbit.startApp();
    await load;
    const during = ctx.record.submissions.filter((s) => s.sentAt >= down && s.answeredAt <= up);
    const refused = during.filter((s) => !s.answer.ok);
    ctx.note(`${during.length} creates sent and answered while RabbitMQ was stopped (${((up - down) / 1000).toFixed(1)} s), ${refused.length} not OK`);
    if (during.length === 0) ctx.fail('no create was answered while RabbitMQ was stopped: the outage was not exercised');
    if (refused.length > 0) ctx.fail(`${refused.length} create(s) refused while RabbitMQ was down: ${[...new Set(refused.map((s) => s.answer.answer))].join(', ')}`);
  },
};
