import { UnavailableError, isDatabaseUnavailable, sleep, type Logger } from '@taskproc/core';

/**
 * Runs `round` every `intervalMs` until stop(), one round at a time (the
 * wait starts when a round ends). A failed round is logged where an operator
 * sees it (warn for a database outage, error otherwise) and the next round
 * tries again. stop() ends the wait at once and waits for a round in flight.
 */
export class PeriodicJob {
  private readonly stopController = new AbortController();
  private running: Promise<void> | null = null;

  constructor(
    private readonly name: string,
    private readonly intervalMs: number,
    private readonly round: (signal: AbortSignal) => Promise<void>,
    private readonly logger: Logger,
  ) {}

  /** Aborted once stop() is called; a round with several statements checks it between them. */
  get signal(): AbortSignal {
    return this.stopController.signal;
  }

  start(): void {
    this.running ??= this.loop();
  }

  async stop(): Promise<void> {
    this.stopController.abort();
    await this.running;
  }

  private async loop(): Promise<void> {
    const { signal } = this.stopController;
    while (!signal.aborted) {
      await sleep(this.intervalMs, signal).catch(() => undefined);
      if (signal.aborted) break;
      try {
        await this.round(signal);
      } catch (error) {
        const outage = error instanceof UnavailableError || isDatabaseUnavailable(error);
        const fields = { err: error, retryInMs: this.intervalMs };
        if (outage) this.logger.warn(fields, `${this.name} failed: the database is unavailable`);
        else this.logger.error(fields, `${this.name} failed`);
      }
    }
  }
}
