import pg from 'pg';
import { backoffDelay, sleep, type Logger } from '@taskproc/core';
import { destroySocket, endWithin } from './pg-client-close.js';

/**
 * The channel an insert into the outbox notifies when its earliest entry is
 * due later (see core's failures migration); the payload is in how many
 * milliseconds.
 */
export const OUTBOX_DUE_CHANNEL = 'taskproc_outbox_due';

/** How often the idle LISTEN connection is probed, so a silently dead one is replaced. */
const PING_INTERVAL_MS = 10_000;

export interface OutboxDueListenerOptions {
  databaseUrl: string;
  /** Opening the LISTEN connection. */
  connectTimeoutMs: number;
  /** Each statement on it (LISTEN, the keepalive ping); a ping without an answer replaces the connection. */
  queryTimeoutMs: number;
  /** Closing it at shutdown. */
  closeTimeoutMs: number;
  logger: Logger;
  /** An entry committed somewhere is due in `delayMs`. */
  onDue(delayMs: number): void;
  /**
   * The LISTEN is in place (again). Notices sent while it was away are lost,
   * so the relay reads the next due time from the table once more.
   */
  onListening(): void;
}

/**
 * Hears of outbox entries with a future not_before that other processes
 * commit (a processor's failed attempt waits out its backoff there), so the
 * relay's one timer covers them too. LISTENs on a dedicated connection (a
 * pooled one cannot hold a LISTEN) and reconnects with backoff; while it is
 * away, the relay's safety-net poll still finds every entry.
 */
export class OutboxDueListener {
  private stopping = false;
  private readonly stopController = new AbortController();
  private client: pg.Client | null = null;
  private loop: Promise<void> | null = null;

  constructor(private readonly options: OutboxDueListenerOptions) {}

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.stopController.abort();
    if (this.client) await endWithin(this.client, this.options.closeTimeoutMs);
    await this.loop;
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopping) {
      try {
        await this.listenUntilDisconnected(() => (failures = 0));
      } catch (error) {
        if (!this.stopping) this.options.logger.warn({ err: error, failures: failures + 1 }, 'outbox due-time listener cannot reach PostgreSQL');
      }
      if (this.stopping) break;
      await sleep(backoffDelay(failures++, 200, 10_000), this.stopController.signal).catch(() => undefined);
    }
  }

  private async listenUntilDisconnected(onListening: () => void): Promise<void> {
    const { logger } = this.options;
    const client = new pg.Client({
      connectionString: this.options.databaseUrl,
      connectionTimeoutMillis: this.options.connectTimeoutMs,
      query_timeout: this.options.queryTimeoutMs,
      keepAlive: true,
      keepAliveInitialDelayMillis: PING_INTERVAL_MS,
      application_name: 'taskproc-task-api-outbox-listener',
    });
    const ended = new Promise<void>((resolve) => {
      client.once('end', () => resolve());
      client.on('error', (error) => {
        if (!this.stopping) logger.warn({ err: error }, 'outbox due-time listener connection error');
        resolve();
      });
    });
    client.on('notification', (notice) => {
      if (notice.channel !== OUTBOX_DUE_CHANNEL) return;
      const delayMs = Number(notice.payload);
      if (Number.isFinite(delayMs)) this.options.onDue(delayMs);
    });
    this.client = client;
    let ping: NodeJS.Timeout | undefined;
    try {
      await client.connect();
      await client.query(`LISTEN ${OUTBOX_DUE_CHANNEL}`);
      if (this.stopping) return;
      onListening();
      this.options.onListening();
      ping = setInterval(() => {
        client.query('select 1').catch((error: unknown) => {
          // A silently lost server never answers end() either: cut the socket.
          if (!this.stopping) logger.warn({ err: error }, 'outbox due-time listener ping failed; replacing the connection');
          destroySocket(client);
        });
      }, PING_INTERVAL_MS);
      await ended;
      if (!this.stopping) logger.warn('outbox due-time listener disconnected; reconnecting');
    } finally {
      clearInterval(ping);
      this.client = null;
      await endWithin(client, this.options.closeTimeoutMs);
    }
  }
}
