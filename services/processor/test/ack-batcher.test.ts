import { describe, expect, it } from 'vitest';
import { AckBatcher } from '../src/messaging/ack-batcher.js';

// The acks of one event-loop turn leave as one `multiple` ack when no
// delivery below them is still open; never does a `multiple` ack cover an
// open delivery. The turn is injected: `flush()` ends it.

function batcher() {
  const sent: string[] = [];
  let scheduled: (() => void) | null = null;
  let closed = false;
  // What the broker would hold: the deliveries it still counts unacknowledged,
  // and the ones the runner allowed to be acked (ack called).
  const unacked = new Set<number>();
  const allowed = new Set<number>();
  const acks = new AckBatcher<{ fields: { deliveryTag: number } }>(
    (delivery, multiple) => {
      if (closed) throw new Error('Channel closed');
      const tag = delivery.fields.deliveryTag;
      // An ack of an unknown tag closes the channel (PRECONDITION_FAILED).
      expect(unacked.has(tag), `tag ${tag} acked twice`).toBe(true);
      for (const covered of multiple ? [...unacked].filter((t) => t <= tag) : [tag]) {
        expect(allowed.has(covered), `tag ${covered} acked before its outcome`).toBe(true);
        unacked.delete(covered);
      }
      sent.push(`${multiple ? '≤' : ''}${tag}`);
    },
    (flush) => {
      expect(scheduled, 'one flush scheduled per turn').toBeNull();
      scheduled = flush;
    },
  );
  const deliveries = new Map<number, { fields: { deliveryTag: number } }>();
  const receive = (...tags: number[]) => {
    for (const tag of tags) {
      const delivery = { fields: { deliveryTag: tag } };
      deliveries.set(tag, delivery);
      unacked.add(tag);
      acks.received(delivery);
    }
  };
  const flush = () => {
    const run = scheduled;
    scheduled = null;
    run?.();
  };
  return {
    sent,
    receive,
    flush,
    close: () => (closed = true),
    ack: (tag: number) => {
      allowed.add(tag);
      return acks.ack(deliveries.get(tag)!);
    },
    /** The runner returns the delivery (nack): the broker no longer counts it. */
    returned: (tag: number) => {
      unacked.delete(tag);
      acks.returned(deliveries.get(tag)!);
    },
    unackedCount: () => unacked.size,
  };
}

describe('AckBatcher', () => {
  it('sends nothing before the turn ends, then one multiple ack for a run of settled deliveries', async () => {
    const b = batcher();
    b.receive(1, 2, 3, 4);
    const answers = [b.ack(3), b.ack(1), b.ack(2), b.ack(4)];
    expect(b.sent).toEqual([]);
    b.flush();
    expect(b.sent).toEqual(['≤4']);
    await expect(Promise.all(answers)).resolves.toEqual([true, true, true, true]);
  });

  it('acks above an open delivery one by one, and covers only those below it', async () => {
    const b = batcher();
    b.receive(1, 2, 3, 4, 5);
    void b.ack(1);
    void b.ack(2);
    void b.ack(4);
    void b.ack(5);
    b.flush();
    // 3 is still being worked on: the multiple ack stops at 2.
    expect(b.sent).toEqual(['≤2', '4', '5']);
    void b.ack(3);
    b.flush();
    expect(b.sent).toEqual(['≤2', '4', '5', '3']);
  });

  it('sends a lone ack without multiple', () => {
    const b = batcher();
    b.receive(1, 2);
    void b.ack(2);
    b.flush();
    expect(b.sent).toEqual(['2']);
  });

  it('does not let a returned delivery hold back the acks above it', () => {
    const b = batcher();
    b.receive(1, 2, 3);
    b.returned(1);
    void b.ack(2);
    void b.ack(3);
    b.flush();
    expect(b.sent).toEqual(['≤3']);
  });

  it('answers false for every ack of a group the closed channel refused', async () => {
    const b = batcher();
    b.receive(1, 2, 3);
    const answers = [b.ack(1), b.ack(2)];
    b.close();
    b.flush();
    await expect(Promise.all(answers)).resolves.toEqual([false, false]);
    expect(b.sent).toEqual([]);
  });

  it('acks every delivery exactly once, never before its outcome, across many turns settled out of order', () => {
    const b = batcher();
    const tags = Array.from({ length: 3_000 }, (_, i) => i + 1);
    b.receive(...tags);
    // Settled in reverse within chunks of 7, a flush after each chunk; every
    // tenth delivery returned instead. The fake broker above fails the test
    // on a double ack or an ack that covers an unsettled delivery.
    for (let start = 0; start < tags.length; start += 7) {
      for (const tag of tags.slice(start, start + 7).reverse()) {
        if (tag % 10 === 0) b.returned(tag);
        else void b.ack(tag);
      }
      b.flush();
    }
    expect(b.unackedCount()).toBe(0);
    expect(b.sent.length).toBeLessThan(tags.length / 2);
  });
});
