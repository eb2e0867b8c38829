import pg from 'pg';
import type { Logger } from '../logging.js';
import { backoffDelay, sleep } from '../timing.js';
import { destroySocket, endWithin } from './pg-client-close.js';

/** How a LISTEN connection reaches PostgreSQL, and the bound on each of its waits. */
export interface PgListenerConnection {
  databaseUrl: string;
  /** Opening the connection (TCP, TLS, authentication). */
  connectTimeoutMs: number;
  /** Each statement on it (LISTEN, the liveness ping); a ping without an answer replaces the connection. */
  queryTimeoutMs: number;
  /** Closing it at shutdown. */
  closeTimeoutMs: number;
}

/** After a reconnect: notices sent in the last `downForMs` (since the connection was last known alive) may be lost. */
export interface ListenGap {
  downForMs: number;
}

export interface PgListenerOptions extends PgListenerConnection {
  /** Fixed channel names of the project's (never input): each is LISTENed on. */
  channels: readonly string[];
  /** The connection's name in pg_stat_activity, where tests and operators find it. */
  applicationName: string;
  /** Begins each warning, e.g. 'watch listener' → 'watch listener disconnected; reconnecting'. */
  name: string;
  logger: Logger;
  /** Logged at info each time the LISTEN is in place; nothing is logged when absent. */
  listeningMessage?: string;
  /** How often the idle connection is probed, so a silently dead one is replaced. */
  pingIntervalMs: number;
  /** Delays between reconnect attempts: exponential from `baseMs`, capped at `maxMs`, with jitter. */
  backoff: { baseMs: number; maxMs: number };
  onNotice(channel: string, payload: string | undefined): void;
  /**
   * The LISTEN is in place: first with `null`, then after every reconnect
   * with the gap, in which notices were lost, so the caller resyncs from
   * the tables (PostgreSQL does not keep notices for an absent listener).
   */
  onListening(gap: ListenGap | null): void;
}

/**
 * One dedicated PostgreSQL connection in LISTEN (a pooled connection cannot
 * hold a LISTEN), kept alive: pinged while idle, replaced when it drops or a
 * ping goes unanswered, with capped backoff between attempts. PostgreSQL
 * delivers a notice only when its transaction commits, in commit order.
 */
export class PgListener {
  private stopping = false;
  private closing: Promise<void> | null = null;
  private readonly stopController = new AbortController();
  private client: pg.Client | null = null;
  private loop: Promise<void> | null = null;
  /** performance.now() when the connection was last known to be listening. */
  private lastAlive: number | null = null;
  private connected = false;
  private markReady!: () => void;
  /** Resolves once the first LISTEN is in place (never, if that does not happen before close()). */
  readonly ready = new Promise<void>((resolve) => (this.markReady = resolve));

  constructor(private readonly options: PgListenerOptions) {}

  get listening(): boolean {
    return this.connected;
  }

  start(): void {
    this.loop ??= this.run();
  }

  /**
   * Stops reconnecting and ends the connection; repeat-safe. Takes about
   * `closeTimeoutMs` at most: the connection is cut when the server does not
   * answer by then, and nothing else the loop does can wait on it.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.stopping = true;
    this.stopController.abort();
    if (this.client) await endWithin(this.client, this.options.closeTimeoutMs);
    await this.loop;
  }

  private async run(): Promise<void> {
    const { logger, name, backoff } = this.options;
    let failures = 0;
    while (!this.stopping) {
      try {
        await this.listenUntilDisconnected(() => (failures = 0));
      } catch (error) {
        if (!this.stopping) logger.warn({ err: error, failures: failures + 1 }, `${name} cannot reach PostgreSQL`);
      }
      if (this.stopping) break;
      await sleep(backoffDelay(failures++, backoff.baseMs, backoff.maxMs), this.stopController.signal).catch(() => undefined);
    }
  }

  private async listenUntilDisconnected(onConnected: () => void): Promise<void> {
    const { logger, name, channels } = this.options;
    const client = new pg.Client({
      connectionString: this.options.databaseUrl,
      connectionTimeoutMillis: this.options.connectTimeoutMs,
      query_timeout: this.options.queryTimeoutMs,
      keepAlive: true,
      keepAliveInitialDelayMillis: this.options.pingIntervalMs,
      application_name: this.options.applicationName,
    });
    const ended = new Promise<void>((resolve) => {
      client.once('end', () => resolve());
      client.on('error', (error) => {
        if (!this.stopping) logger.warn({ err: error }, `${name} connection error`);
        resolve();
      });
    });
    client.on('notification', (notice) => {
      this.lastAlive = performance.now();
      this.options.onNotice(notice.channel, notice.payload);
    });
    this.client = client;
    let ping: NodeJS.Timeout | undefined;
    try {
      // A client ended while it connects (close() then) never settles its
      // connect(): node-postgres reports no error for an end it was asked for.
      await Promise.race([client.connect(), ended.then(() => Promise.reject(new Error('connection ended while connecting')))]);
      await client.query(channels.map((channel) => `LISTEN ${client.escapeIdentifier(channel)}`).join('; '));
      if (this.stopping) return;
      const gap = this.lastAlive === null ? null : { downForMs: performance.now() - this.lastAlive };
      this.lastAlive = performance.now();
      this.connected = true;
      onConnected();
      if (this.options.listeningMessage) logger.info({ channel: channels.join(', '), reconnect: gap !== null }, this.options.listeningMessage);
      this.options.onListening(gap);
      this.markReady();
      ping = setInterval(() => this.ping(client), this.options.pingIntervalMs);
      await ended;
      if (!this.stopping) logger.warn(`${name} disconnected; reconnecting`);
    } finally {
      this.connected = false;
      clearInterval(ping);
      this.client = null;
      await endWithin(client, this.options.closeTimeoutMs);
    }
  }

  private ping(client: pg.Client): void {
    client.query('select 1').then(
      () => (this.lastAlive = performance.now()),
      (error: unknown) => {
        // A silently lost server never answers end() either: cut the socket.
        if (!this.stopping) this.options.logger.warn({ err: error }, `${this.options.name} ping failed; replacing the connection`);
        destroySocket(client);
      },
    );
  }
}
