import { setTimeout as delay } from 'node:timers/promises';
import { HealthSampler, ReadinessProbe } from '../lib/health.js';
import { submitLoad } from '../lib/load.js';
import { describeWindow, expectReadyAgain } from '../lib/outage.js';
import type { Scenario } from '../lib/scenario.js';

const HOLE_MS = 20_000;

/**
 * RabbitMQ blackholed for 20 s under load, the same way as PostgreSQL in
 * scenario 11: the relay's publishes and confirms, the processors'
 * deliveries and acks, heartbeats and new connections all meet silence.
 * Creates need only the database, so every one must be answered OK within
 * its deadline (the outbox keeps them); no service may hang or crash; once
 * the hole lifts, the relay and the processors must get going again on their
 * own (on the old connections or new ones) and every task must complete.
 * Readiness is noted, not judged: how long a broker outage must last before
 * task-api calls itself not ready is its own setting.
 */
export const rabbitmqBlackhole: Scenario = {
  id: '12-rabbitmq-blackhole',
  title: 'RabbitMQ blackholed for 20 s under load (nothing answers, nothing closes)',
  network: 'proxied',
  async run(ctx) {
    const { system } = ctx;
    const proxy = ctx.proxies!.rabbit;
    await system.startAll(2);
    ctx.drainTimeoutMs = 75_000;
    const probe = new ReadinessProbe(system.taskApiUrl);
    const sampler = new HealthSampler(probe, system.clients.rest ? system.gatewayUrl : null);
    const stopLoad = new AbortController();
    const load = submitLoad(system.clients, ctx.record, ctx.topology.taskQueue, { count: 10_000, concurrency: 16, ratePerSecond: 30, signal: stopLoad.signal });
    await delay(3_000);
    ctx.log(`blackholing RabbitMQ (${proxy.connections} connections open through the proxy)`);
    const down = Date.now();
    proxy.hold();
    await delay(HOLE_MS);
    const up = Date.now();
    proxy.release();
    ctx.log('RabbitMQ reachable again');
    await delay(5_000);
    stopLoad.abort();
    await load;
    await sampler.stop();

    const during = describeWindow(ctx.record.submissions, down, up);
    ctx.note(`during the ${HOLE_MS / 1000} s hole: ${during.line}`);
    const refused = during.sent.filter((s) => !s.answer.ok);
    if (during.sent.length === 0) ctx.fail('no create was sent during the hole: the outage was not exercised');
    if (refused.length > 0) ctx.fail(`${refused.length} create(s) refused while RabbitMQ was blackholed: ${[...new Set(refused.map((s) => s.answer.answer))].join(', ')}`);
    const statuses = sampler.between(down, up).map((s) => s.readiness.status);
    const notServingFrom = sampler.between(down, up).find((s) => s.readiness.status === 'NOT_SERVING');
    ctx.note(
      `readiness during the hole: ${[...new Set(statuses)].join(', ') || 'no sample'}` +
        (notServingFrom ? ` (NOT_SERVING from ${((notServingFrom.at - down) / 1000).toFixed(0)} s)` : ''),
    );
    await expectReadyAgain(ctx, probe, up);
  },
};
