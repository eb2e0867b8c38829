/** What the batcher needs of a delivery: its tag (amqplib's ConsumeMessage has it). */
export interface Delivery {
  fields: { deliveryTag: number };
}

/** basic.ack for `delivery`; with `multiple`, for every unacknowledged delivery below it too. Throws when the channel is closed. */
export type SendAck<D extends Delivery> = (delivery: D, multiple: boolean) => void;

interface PendingAck<D> {
  tag: number;
  delivery: D;
  answer: (sent: boolean) => void;
}

/**
 * The acknowledgements of one channel, sent together: the acks of one
 * event-loop turn leave as one `basic.ack` with `multiple` set, covering
 * every delivery up to the highest of them, as long as no delivery below it
 * is still open (being worked on); acks above an open delivery leave one by
 * one, as before. Claims and completions are batched, so the tasks of one
 * statement settle in the same turn: one frame for the broker to take
 * instead of one per task (the processor's socket writes, RabbitMQ's work
 * per frame).
 *
 * What is acknowledged, and when it may be, does not change: a delivery is
 * acked only after `ack` was called for it (its outcome is in the
 * database); a `multiple` ack never covers an open delivery, since delivery
 * tags grow with each delivery on a channel and every one is `received`
 * here first; returns (nack with requeue, sent by the caller and told here
 * with `returned`) go out at once, alone. The wait is one turn of the event
 * loop (`schedule`). While one delivery stays open (a long task), the acks
 * above it go one by one, and the ledger keeps the tags received since
 * (a number each) until it settles: bounded by the attempt's timeout.
 */
export class AckBatcher<D extends Delivery> {
  /** Tags received, in order; the lowest open one is at or after `head`. */
  private readonly order: number[] = [];
  private head = 0;
  /** Received, and neither acked nor returned yet. */
  private readonly open = new Set<number>();
  private pending: PendingAck<D>[] = [];

  constructor(
    private readonly sendAck: SendAck<D>,
    private readonly schedule: (flush: () => void) => void = setImmediate,
  ) {}

  /** A delivery came in: its tag is above every earlier one (the broker numbers a channel's deliveries 1, 2, 3...). */
  received(delivery: D): void {
    const tag = delivery.fields.deliveryTag;
    this.order.push(tag);
    this.open.add(tag);
  }

  /** Acks `tag` within this turn of the event loop; resolves true once sent, false when the channel refused it (it died: the broker returns the message itself). */
  ack(delivery: D): Promise<boolean> {
    const tag = delivery.fields.deliveryTag;
    this.open.delete(tag);
    return new Promise<boolean>((answer) => {
      if (this.pending.length === 0) this.schedule(() => this.flush());
      this.pending.push({ tag, delivery, answer });
    });
  }

  /** The delivery is being returned (nack) by the caller: it no longer holds back a `multiple` ack. */
  returned(delivery: D): void {
    this.open.delete(delivery.fields.deliveryTag);
  }

  private flush(): void {
    const batch = this.pending.sort((a, b) => a.tag - b.tag);
    this.pending = [];
    const lowestOpen = this.lowestOpen();
    const below = lowestOpen === undefined ? batch.length : batch.findIndex((p) => p.tag > lowestOpen);
    const covered = below < 0 ? batch : batch.slice(0, below);
    this.send(covered);
    for (const p of batch.slice(covered.length)) this.send([p]);
  }

  /** One ack for the group: `multiple` when it holds more than one delivery. */
  private send(group: PendingAck<D>[]): void {
    if (group.length === 0) return;
    let sent = true;
    try {
      this.sendAck(group[group.length - 1]!.delivery, group.length > 1);
    } catch {
      sent = false;
    }
    for (const p of group) p.answer(sent);
  }

  private lowestOpen(): number | undefined {
    // A tag, once settled, is never open again: the settled prefix can go.
    while (this.head < this.order.length && !this.open.has(this.order[this.head]!)) this.head++;
    if (this.head > 1_024) {
      this.order.splice(0, this.head);
      this.head = 0;
    }
    return this.order[this.head];
  }
}
