import { randomUUID } from 'node:crypto';
import type { ConfirmChannel, ConsumeMessage, Message } from 'amqplib';
import { DEAD_LETTER_REASON_HEADER } from '@taskproc/core';

/** Tags each copy so a basic.return can be matched to the publish it undoes. */
const COPY_ID_HEADER = 'x-taskproc-dead-letter-copy';

export interface DeadLetterSettings {
  exchange: string;
  /** Longest wait for the broker's confirm of a copy. */
  confirmTimeoutMs: number;
  /** A copy came back unroutable: the dead-letter queue (or its binding) is gone. */
  onUnroutable: () => void;
}

/**
 * Publishes a copy of a message to the dead-letter exchange with the reason
 * in a header, and resolves once the broker has confirmed it (the caller
 * acknowledges the original only then, so a message is never in neither
 * queue). The broker's own dead-lettering (nack without requeue) would not
 * carry our reason, hence the copy.
 *
 * The copy is `mandatory`: if no queue is bound to the exchange the broker
 * returns it (before its confirm) and the publish fails, so the caller keeps
 * the original. A confirm that does not come within `confirmTimeoutMs` fails
 * the publish too.
 */
export function createDeadLetterPublisher(channel: ConfirmChannel, settings: DeadLetterSettings) {
  const returned = new Set<string>();
  channel.on('return', (message: Message) => {
    const copyId = message.properties.headers?.[COPY_ID_HEADER];
    if (typeof copyId === 'string') returned.add(copyId);
  });

  return (message: ConsumeMessage, reason: string): Promise<void> => {
    const { properties } = message;
    const copyId = randomUUID();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        returned.delete(copyId);
        reject(new Error(`no confirm from the broker for a dead-letter copy within ${settings.confirmTimeoutMs} ms`));
      }, settings.confirmTimeoutMs);
      channel.publish(
        settings.exchange,
        message.fields.routingKey,
        message.content,
        {
          persistent: true,
          mandatory: true,
          contentType: properties.contentType,
          contentEncoding: properties.contentEncoding,
          messageId: properties.messageId,
          correlationId: properties.correlationId,
          timestamp: properties.timestamp,
          type: properties.type,
          appId: properties.appId,
          headers: { ...properties.headers, [DEAD_LETTER_REASON_HEADER]: reason, [COPY_ID_HEADER]: copyId },
        },
        (error) => {
          clearTimeout(timer);
          const wasReturned = returned.delete(copyId);
          if (error) reject(error instanceof Error ? error : new Error(String(error)));
          else if (wasReturned) {
            settings.onUnroutable();
            reject(new Error(`the dead-letter copy was unroutable: no queue is bound to ${settings.exchange}`));
          } else resolve();
        },
      );
    });
  };
}
