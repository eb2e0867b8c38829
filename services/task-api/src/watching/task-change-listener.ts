import pg from 'pg';
import { TASK_CHANGED_CHANNEL, backoffDelay, parseTaskChangeNotice, sleep, type Logger, type TaskChangeNotice } from '@taskproc/core';
import { destroySocket, endWithin } from '../pg-client-close.js';

/** How often the idle LISTEN connection is probed, so a silently dead one is replaced. */
const PING_INTERVAL_MS = 5_000;

export interface TaskChangeListenerEvents {
  onNotice(notice: TaskChangeNotice): void;
  /**
   * Called each time the LISTEN is in place. After a reconnect,
   * `downForMs` says how long notices may have gone unheard (since the
   * connection was last known alive), so the caller re-reads what changed.
   */
  onListening(reconnect: { downForMs: number } | null): void;
}

/**
 * The one PostgreSQL connection per task-api process that LISTENs on
 * taskproc_task_changed (a pooled connection cannot hold a LISTEN), with
 * reconnects and backoff. PostgreSQL delivers the notices on commit only, in
 * commit order, so what arrives are changes that really happened.
 */
// Closing the LISTEN connection waits at most this before cutting its socket.
const CLOSE_TIMEOUT_MS = 2_000;

export class TaskChangeListener {
  private stopping = false;
  private readonly stopController = new AbortController();
  private client: pg.Client | null = null;
  private loop: Promise<void> | null = null;
  /** performance.now() when the connection was last known to be listening. */
  private lastAlive: number | null = null;
  private connected = false;

  constructor(
    private readonly databaseUrl: string,
    private readonly events: TaskChangeListenerEvents,
    private readonly logger: Logger,
  ) {}

  get listening(): boolean {
    return this.connected;
  }

  start(): void {
    this.loop ??= this.run();
  }

  async close(): Promise<void> {
    this.stopping = true;
    this.stopController.abort();
    if (this.client) await endWithin(this.client, CLOSE_TIMEOUT_MS);
    await this.loop;
  }

  private async run(): Promise<void> {
    let failures = 0;
    while (!this.stopping) {
      try {
        await this.listenUntilDisconnected(() => (failures = 0));
      } catch (error) {
        if (!this.stopping) this.logger.warn({ err: error, failures: failures + 1 }, 'watch listener cannot reach PostgreSQL');
      }
      if (this.stopping) break;
      await sleep(backoffDelay(failures++, 400, 10_000), this.stopController.signal).catch(() => undefined);
    }
  }

  private async listenUntilDisconnected(onConnected: () => void): Promise<void> {
    const client = new pg.Client({
      connectionString: this.databaseUrl,
      connectionTimeoutMillis: 3_000,
      query_timeout: 5_000,
      keepAlive: true,
      application_name: 'taskproc-task-api-watch',
    });
    const ended = new Promise<void>((resolve) => {
      client.once('end', () => resolve());
      client.on('error', (error) => {
        if (!this.stopping) this.logger.warn({ err: error }, 'watch listener connection error');
        resolve();
      });
    });
    client.on('notification', (message) => {
      if (message.channel !== TASK_CHANGED_CHANNEL) return;
      const notice = parseTaskChangeNotice(message.payload);
      if (!notice) {
        this.logger.warn({ payload: message.payload }, 'unreadable task change notice ignored');
        return;
      }
      this.lastAlive = performance.now();
      this.events.onNotice(notice);
    });
    this.client = client;
    let ping: NodeJS.Timeout | undefined;
    try {
      await client.connect();
      await client.query(`LISTEN ${TASK_CHANGED_CHANNEL}`);
      if (this.stopping) return;
      const reconnect = this.lastAlive === null ? null : { downForMs: performance.now() - this.lastAlive };
      this.lastAlive = performance.now();
      this.connected = true;
      onConnected();
      this.logger.info({ channel: TASK_CHANGED_CHANNEL, reconnect: reconnect !== null }, 'listening for task changes');
      this.events.onListening(reconnect);
      ping = setInterval(() => {
        client.query('select 1').then(
          () => (this.lastAlive = performance.now()),
          () => {
            if (!this.stopping) this.logger.warn('watch listener ping failed; replacing the connection');
            destroySocket(client);
          },
        );
      }, PING_INTERVAL_MS);
      await ended;
      if (!this.stopping) this.logger.warn('watch listener disconnected; reconnecting');
    } finally {
      this.connected = false;
      clearInterval(ping);
      this.client = null;
      await endWithin(client, CLOSE_TIMEOUT_MS);
    }
  }
}
