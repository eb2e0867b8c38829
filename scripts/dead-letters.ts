import amqp from 'amqplib';
import { DEAD_LETTER_REASON_HEADER, EnvReader, taskTopology } from '@taskproc/core';

// `make dead-letters`: lists what sits in the dead-letter queue without
// taking it away (every message is read unacknowledged and returned to the
// queue when the channel closes). One line per message: when it was set
// aside, why (the processor's x-taskproc-reason, or the broker's own reason
// such as delivery_limit), and its body. `make dead-letters DLQ_LIMIT=500`
// reads more than the first 100.

const env = new EnvReader(process.env);
const settings = env.done({
  amqpUrl: env.url('AMQP_URL', ['amqp:', 'amqps:']),
  queueNamespace: env.string('QUEUE_NAMESPACE', 'taskproc'),
  limit: env.integer('DLQ_LIMIT', 100, { min: 1, max: 100_000 }),
});
const { deadLetterQueue } = taskTopology(settings.queueNamespace, 1);
// Piped into `head`: a closed stdout ends the listing (the messages stay queued).
process.stdout.on('error', () => process.exit(0));

const connection = await amqp.connect(settings.amqpUrl, { timeout: 5_000 });
connection.on('error', () => undefined);
try {
  const channel = await connection.createChannel();
  channel.on('error', () => undefined);
  const found = await channel.checkQueue(deadLetterQueue).catch(() => null);
  if (!found) {
    process.stdout.write(`no queue ${deadLetterQueue}: no service has declared it yet (or QUEUE_NAMESPACE differs)\n`);
    process.exit(0);
  }
  process.stdout.write(`${deadLetterQueue}: ${found.messageCount} message(s)\n`);
  for (let n = 0; n < settings.limit; n++) {
    const message = await channel.get(deadLetterQueue, { noAck: false });
    if (message === false) break;
    const headers = message.properties.headers ?? {};
    const deaths = headers['x-death'] as { reason?: string; time?: { value?: number } }[] | undefined;
    const reason = headers[DEAD_LETTER_REASON_HEADER] ?? headers['x-first-death-reason'] ?? deaths?.[0]?.reason ?? 'unknown';
    const at = message.properties.timestamp ? new Date(Number(message.properties.timestamp) * 1000).toISOString() : '';
    const body = message.content.toString('utf8');
    process.stdout.write(`${at}\t${String(reason)}\t${body.length > 200 ? `${body.slice(0, 200)}…` : body}\n`);
  }
  // Closing the channel returns every message read above to the queue.
  await channel.close();
} finally {
  await connection.close();
}
