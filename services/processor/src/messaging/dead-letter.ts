import type { ConfirmChannel, ConsumeMessage } from 'amqplib';
import { DEAD_LETTER_REASON_HEADER } from '@taskproc/core';

/**
 * Publishes a copy of `message` to the dead-letter exchange with the reason
 * in a header, and resolves once the broker has confirmed it (the caller
 * acknowledges the original only then, so a message is never in neither
 * queue). The broker's own dead-lettering (nack without requeue) would not
 * carry our reason, hence the copy.
 */
export function publishDeadLetter(channel: ConfirmChannel, exchange: string, message: ConsumeMessage, reason: string): Promise<void> {
  const { properties } = message;
  return new Promise((resolve, reject) => {
    channel.publish(
      exchange,
      message.fields.routingKey,
      message.content,
      {
        persistent: true,
        contentType: properties.contentType,
        contentEncoding: properties.contentEncoding,
        messageId: properties.messageId,
        correlationId: properties.correlationId,
        timestamp: properties.timestamp,
        type: properties.type,
        appId: properties.appId,
        headers: { ...properties.headers, [DEAD_LETTER_REASON_HEADER]: reason },
      },
      (error) => (error ? reject(error instanceof Error ? error : new Error(String(error))) : resolve()),
    );
  });
}
