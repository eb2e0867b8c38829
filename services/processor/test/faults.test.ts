import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_TENANT } from '@taskproc/core';
import { startProcessor, type Processor } from '../src/processor.js';
import type { ProcessorEventMap } from '../src/events.js';
import { captureLogs } from '../../../test/support/log-capture.js';
import { createHarness, type Harness } from './support/harness.js';
import { startTcpProxy, type TcpProxy } from '../../../test/support/tcp-proxy.js';
import { waitFor } from '../../../test/support/wait-for.js';

type Settled = ProcessorEventMap['settled'][0];

// PostgreSQL and RabbitMQ are made unreachable for this file alone by a TCP
// proxy between them and the processor under test; the test itself reaches
// both directly.
describe('processor faults', () => {
  let harness: Harness;
  let dbProxy: TcpProxy;
  let amqpProxy: TcpProxy;
  const started: Processor[] = [];

  beforeAll(async () => {
    harness = await createHarness('processor_faults');
    dbProxy = await startTcpProxy(harness.config.databaseUrl, 5432);
    amqpProxy = await startTcpProxy(harness.config.amqpUrl, 5672);
  });

  afterEach(async () => {
    dbProxy.unblock();
    amqpProxy.unblock();
    await Promise.all(started.splice(0).map((p) => p.close()));
  });

  afterAll(async () => {
    await dbProxy?.close();
    await amqpProxy?.close();
    await harness?.close();
  });

  async function start(overrides: Record<string, string>, logger = captureLogs().logger) {
    const processor = await startProcessor(harness.configWith(overrides), logger);
    started.push(processor);
    const settled: Settled[] = [];
    const claims: ProcessorEventMap['claimed'][0][] = [];
    processor.events.on('settled', (event) => settled.push(event));
    processor.events.on('claimed', (event) => claims.push(event));
    return { processor, settled, claims };
  }

  it('acknowledges nothing while the database is unreachable, and finishes once it is back', async () => {
    const logs = captureLogs();
    const { settled, claims } = await start(
      { DATABASE_URL: dbProxy.via(harness.config.databaseUrl), PROCESSING_DURATION_MS: '1000' },
      logs.logger,
    );
    const working = await harness.createTask('outlives the database');
    await waitFor(() => claims.some((c) => c.taskId === working.id), Boolean, { description: 'claimed' });

    dbProxy.block();
    // Created while the processor cannot reach the database: its claim fails too.
    const waiting = await harness.createTask('arrives during the outage');
    await waitFor(() => logs.matching('database unavailable during completion').length, (n) => n > 0, { description: 'completion retried' });
    await waitFor(() => logs.matching('database unavailable during claim').length, (n) => n > 0, { description: 'claim retried' });
    expect(settled).toEqual([]);
    expect(await harness.statusOf(working.id)).toBe('processing');
    expect(await harness.statusOf(waiting.id)).toBe('pending');

    dbProxy.unblock();
    await waitFor(() => harness.countByStatus(), (c) => c.completed === 2, { timeoutMs: 15_000, description: 'both completed' });
    await waitFor(() => settled.length, (n) => n === 2);
    expect(settled.every((s) => s.outcome === 'completed' && s.acked)).toBe(true);
    // Held, not requeued: no delivery was spent on the outage.
    expect((await harness.transitions(working.id)).map((t) => `${t.to_status}/${t.attempt}`)).toEqual(['pending/0', 'processing/1', 'completed/1']);
    expect(await harness.drainDeadLetters()).toEqual([]);
  });

  it('after its listener reconnects, aborts work on a task canceled while it was away', async () => {
    const { processor, settled, claims } = await start({ DATABASE_URL: dbProxy.via(harness.config.databaseUrl), PROCESSING_DURATION_MS: '600000' });
    const task = await harness.createTask('canceled during the outage');
    await waitFor(() => claims.some((c) => c.taskId === task.id), Boolean, { description: 'claimed' });

    let reconnected = false;
    processor.events.on('listener-connected', () => (reconnected = true));
    dbProxy.block();
    await harness.store.cancelIfNotFinal(DEFAULT_TENANT, task.id); // its notice cannot reach the processor
    dbProxy.unblock();

    await waitFor(() => settled, (s) => s.length === 1, { timeoutMs: 15_000, description: 'the canceled task settled' });
    expect(reconnected).toBe(true);
    expect(settled).toEqual([{ taskId: task.id, outcome: 'canceled', acked: true }]);
    expect(await harness.statusOf(task.id)).toBe('canceled');
  });

  it('reconnects to RabbitMQ after losing it mid-task; the redelivered task is re-claimed and completed', async () => {
    const { processor, settled, claims } = await start({ AMQP_URL: amqpProxy.via(harness.config.amqpUrl), PROCESSING_DURATION_MS: '1000' });
    const aborted: ProcessorEventMap['aborted'][0][] = [];
    processor.events.on('aborted', (event) => aborted.push(event));
    let reconnects = 0;
    processor.events.on('broker-connected', () => reconnects++);

    const task = await harness.createTask('outlives the broker connection');
    await waitFor(() => claims.length, (n) => n === 1, { description: 'claimed' });
    amqpProxy.block();
    await waitFor(() => aborted, (a) => a.length === 1, { description: 'work aborted' });
    expect(aborted[0]).toMatchObject({ taskId: task.id, reason: 'channel-lost' });
    amqpProxy.unblock();

    await waitFor(() => harness.statusOf(task.id), (s) => s === 'completed', { timeoutMs: 15_000, description: 'completed after reconnect' });
    expect(reconnects).toBeGreaterThanOrEqual(1);
    expect(claims.map((c) => c.attempt)).toEqual([1, 2]);
    expect((await harness.transitions(task.id)).map((t) => `${t.to_status}/${t.attempt}`)).toEqual([
      'pending/0',
      'processing/1',
      'processing/2',
      'completed/2',
    ]);
    await waitFor(() => settled.at(-1), (s) => s?.outcome === 'completed' && s.acked === true);
  });

  it('hands a task whose consumer died mid-task to another consumer, which finishes it', async () => {
    const first = await start({ AMQP_URL: amqpProxy.via(harness.config.amqpUrl), PROCESSING_DURATION_MS: '600000' });
    const task = await harness.createTask('its consumer dies');
    await waitFor(() => first.claims.length, (n) => n === 1, { description: 'claimed by the first processor' });

    const second = await start({ PROCESSING_DURATION_MS: '200' });
    amqpProxy.block(); // the first processor's connection dies and stays dead

    await waitFor(() => harness.statusOf(task.id), (s) => s === 'completed', { timeoutMs: 15_000, description: 'finished by the second processor' });
    expect(second.claims).toEqual([{ taskId: task.id, attempt: 2 }]);
    expect(await harness.countByStatus()).not.toHaveProperty('processing');
    expect(first.settled).toEqual([{ taskId: task.id, outcome: 'returned', acked: false }]);
  });
});
