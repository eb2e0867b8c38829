import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEAD_LETTER_REASON_HEADER, encodeTaskMessage, newTaskId } from '@taskproc/core';
import { startProcessor, type Processor } from '../src/processor.js';
import type { ProcessorEventMap } from '../src/events.js';
import { createHarness, type Harness } from './support/harness.js';
import { captureLogs, type CapturedLogs } from '../../../test/support/log-capture.js';
import { waitFor } from '../../../test/support/wait-for.js';

describe('poison messages', () => {
  let harness: Harness;
  let processor: Processor;
  let logs: CapturedLogs;
  const settled: ProcessorEventMap['settled'][0][] = [];

  beforeAll(async () => {
    harness = await createHarness('processor_poison');
    logs = captureLogs();
    processor = await startProcessor(harness.config, logs.logger);
    processor.events.on('settled', (event) => settled.push(event));
  });

  afterAll(async () => {
    await processor?.close();
    await harness?.close();
  });

  it.each([
    ['a body that is not JSON', Buffer.from('{"task_id": '), 'body is not JSON'],
    ['a body without a task id', Buffer.from(JSON.stringify({ id: newTaskId() })), 'body has no task_id UUID'],
    ['a task id that is not a UUID', Buffer.from(JSON.stringify({ task_id: 'task-42' })), 'body has no task_id UUID'],
    ['an unknown task id', encodeTaskMessage(newTaskId()), 'no task has this id'],
  ])('sets aside %s in the dead-letter queue with the reason in a header', async (_name, body, reason) => {
    const messageId = newTaskId();
    await harness.publish(body, { messageId, headers: { 'x-origin': 'poison test' } });

    const [dead] = await waitFor(() => harness.drainDeadLetters(), (messages) => messages.length > 0, { description: 'a dead letter' });
    expect(dead!.content.equals(body)).toBe(true);
    expect(dead!.properties.messageId).toBe(messageId);
    expect(dead!.properties.headers?.[DEAD_LETTER_REASON_HEADER]).toBe(reason);
    expect(dead!.properties.headers?.['x-origin']).toBe('poison test');
    // Set aside, not retried: the original is acknowledged and gone.
    await waitFor(() => settled.filter((s) => s.outcome === 'dead-lettered' && s.acked).length, (n) => n > 0);
    settled.length = 0;
    expect(await harness.readyMessages()).toBe(0);
    // The log line an operator finds it by: a warning naming the message and why.
    const logged = logs.matching('set aside in the dead-letter queue').filter((line) => line.messageId === messageId);
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({ level: 40, reason, messageId });
  });

  it('keeps a poison message while the dead-letter queue is missing, declares the queue again and then sets it aside', async () => {
    await harness.deleteQueue(harness.topology.deadLetterQueue);
    const messageId = newTaskId();
    const body = Buffer.from('not json at all');
    await harness.publish(body, { messageId });
    // The copy comes back unroutable (mandatory): the original is returned to
    // the queue, not acknowledged, and the processor declares the queue again.
    const [dead] = await waitFor(
      () => harness.drainDeadLetters().catch(() => []),
      (messages) => messages.length > 0,
      { timeoutMs: 20_000, description: 'the dead letter, once the queue exists again' },
    );
    expect(dead!.properties.messageId).toBe(messageId);
    expect(dead!.properties.headers?.[DEAD_LETTER_REASON_HEADER]).toBe('body is not JSON');
    await waitFor(() => harness.readyMessages(), (n) => n === 0, { description: 'the original acknowledged' });
    settled.length = 0;
  });

  it('ends a crash loop at the delivery limit in the dead-letter queue, and never dead-letters a healthy task', async () => {
    // A fault only this test's database has: claiming this one task fails
    // with an error the processor does not understand, every time.
    await harness.db.query(`create function refuse_claim() returns trigger language plpgsql as $$
      begin raise exception 'injected fault' using errcode = 'XX000'; end $$`);
    await harness.db.query(`create trigger refuse_claim before update on task for each row
      when (new.content = 'crashes every time') execute function refuse_claim()`);

    const doomed = await harness.createTask('crashes every time');
    const healthy = await harness.createTask('healthy');

    const [dead] = await waitFor(() => harness.drainDeadLetters(), (messages) => messages.length > 0, { description: 'the crash loop dead-lettered' });
    expect(dead!.content.equals(encodeTaskMessage(doomed.id))).toBe(true);
    // The broker, not the processor, set it aside: it names the delivery limit.
    expect(dead!.properties.headers?.['x-first-death-reason']).toBe('delivery_limit');
    const returns = settled.filter((s) => s.taskId === doomed.id);
    expect(returns).toHaveLength(harness.config.queueDeliveryLimit + 1);
    expect(returns.every((s) => s.outcome === 'returned' && !s.acked)).toBe(true);

    await waitFor(() => harness.statusOf(healthy.id), (s) => s === 'completed');
    expect(await harness.statusOf(doomed.id)).toBe('pending');
    expect(await harness.drainDeadLetters()).toEqual([]);
    expect(await harness.readyMessages()).toBe(0);
  });
});
