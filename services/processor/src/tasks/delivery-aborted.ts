import type { AbortReason } from '../events.js';

/** The reason an in-flight delivery's AbortSignal carries; `sleep` rejects with it. */
export class DeliveryAborted extends Error {
  constructor(readonly reason: AbortReason) {
    super(`delivery aborted: ${reason}`);
    this.name = 'DeliveryAborted';
  }
}
