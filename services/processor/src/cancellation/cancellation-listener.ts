import pg from 'pg';
import { backoffDelay, sleep, type Logger } from '@taskproc/core';

/**
 * The channel the task trigger notifies when a task becomes canceled, with
 * the task id as payload (see core's transitions migration).
 */
export const TASK_CANCELED_CHANNEL = 'taskproc_task_canceled';

/** How often the idle LISTEN connection is probed, so a silently dead one is replaced. */
const PING_INTERVAL_MS = 10_000;

export interface CancellationListenerOptions {
  databaseUrl: string;
  /** Opening the LISTEN connection. */
  connectTimeoutMs: number;
  /** Each statement on it (LISTEN, the keepalive ping); a ping without an answer replaces the connection. */
  queryTimeoutMs: number;
  /** Closing it at shutdown. */
  closeTimeoutMs: number;
  logger: Logger;
  onCancel: (taskId: string) => void;
  /**
   * Called each time the LISTEN is in place. After a reconnect the notices
   * sent while we were away are lost, so the caller re-checks the tasks it holds.
   */
  onListening: (reconnected: boolean) => void;
}

/**
 * LISTENs on a dedicated PostgreSQL connection (a pooled one cannot hold a
 * LISTEN) and reconnects with backoff when it drops. PostgreSQL sends a
 * notice only when the cancel's transaction commits, so every notice names a
 * task that is really canceled.
 */
export class CancellationListener {
  private stopping = false;
  private readonly stopController = new AbortController();
  private client: pg.Client | null = null;
  private loop: Promise<void> | null = null;
  private markReady!: () => void;
  /** Resolves once the first LISTEN is in place. */
  readonly ready = new Promise<void>((resolve) => (this.markReady = resolve));

  constructor(private readonly options: CancellationListenerOptions) {}

  start(): void {
    this.loop ??= this.run();
  }

  async close(): Promise<void> {
    this.stopping = true;
    this.stopController.abort();
    if (this.client) await endWithin(this.client, this.options.closeTimeoutMs);
    await this.loop;
  }

  private async run(): Promise<void> {
    let failures = 0;
    let connectedBefore = false;
    while (!this.stopping) {
      try {
        await this.listenUntilDisconnected(() => {
          failures = 0;
          this.options.onListening(connectedBefore);
          connectedBefore = true;
        });
      } catch (error) {
        if (!this.stopping) this.options.logger.warn({ err: error, failures: failures + 1 }, 'cancellation listener cannot reach PostgreSQL');
      }
      if (this.stopping) break;
      await sleep(backoffDelay(failures++, 200, 10_000), this.stopController.signal).catch(() => undefined);
    }
  }

  private async listenUntilDisconnected(onListening: () => void): Promise<void> {
    const { logger, onCancel } = this.options;
    const client = new pg.Client({
      connectionString: this.options.databaseUrl,
      connectionTimeoutMillis: this.options.connectTimeoutMs,
      query_timeout: this.options.queryTimeoutMs,
      keepAlive: true,
      keepAliveInitialDelayMillis: PING_INTERVAL_MS,
      application_name: 'taskproc-processor-listener',
    });
    const ended = new Promise<void>((resolve) => {
      client.once('end', () => resolve());
      client.on('error', (error) => {
        if (!this.stopping) logger.warn({ err: error }, 'cancellation listener connection error');
        resolve();
      });
    });
    client.on('notification', (notice) => {
      if (notice.channel === TASK_CANCELED_CHANNEL && notice.payload) onCancel(notice.payload);
    });
    this.client = client;
    let ping: NodeJS.Timeout | undefined;
    try {
      await client.connect();
      await client.query(`LISTEN ${TASK_CANCELED_CHANNEL}`);
      if (this.stopping) return;
      logger.info({ channel: TASK_CANCELED_CHANNEL }, 'listening for cancels');
      onListening();
      this.markReady();
      ping = setInterval(() => {
        client.query('select 1').catch((error: unknown) => {
          // A silently lost server never answers end() either: cut the socket.
          if (!this.stopping) logger.warn({ err: error }, 'cancellation listener ping failed; replacing the connection');
          destroySocket(client);
        });
      }, PING_INTERVAL_MS);
      await ended;
      if (!this.stopping) logger.warn('cancellation listener disconnected; reconnecting');
    } finally {
      clearInterval(ping);
      this.client = null;
      await endWithin(client, this.options.closeTimeoutMs);
    }
  }
}

/** Ends a client, cutting its socket when the server does not answer within `ms`. */
async function endWithin(client: pg.Client, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), ms)));
  const outcome = await Promise.race([client.end().then(() => 'ended', () => 'ended'), late]);
  clearTimeout(timer);
  if (outcome === 'late') destroySocket(client);
}

function destroySocket(client: pg.Client): void {
  (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
}
