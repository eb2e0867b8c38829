import amqp, { type ChannelModel } from 'amqplib';

export interface BrokerConnectOptions {
  /** Bounds the TCP connect and the AMQP handshake (each silence of the socket in it). */
  timeoutMs: number;
  /** Shown in the broker's management UI, to tell connections apart. */
  connectionName: string;
}

/**
 * Heartbeat interval asked of the broker, unless the URL names one. The
 * client gives up on a connection that stays silent for two intervals, so a
 * broker lost without a reset (a broken network) is noticed in about 20 s
 * instead of the broker's default of two minutes.
 */
const HEARTBEAT_SECONDS = 10;

/** Opens a RabbitMQ connection whose every wait is bounded: connect, handshake, silence (heartbeats, TCP keepalive). */
export async function connectToBroker(url: string, options: BrokerConnectOptions): Promise<ChannelModel> {
  const withHeartbeat = new URL(url);
  if (!withHeartbeat.searchParams.has('heartbeat')) withHeartbeat.searchParams.set('heartbeat', String(HEARTBEAT_SECONDS));
  return amqp.connect(withHeartbeat.toString(), {
    timeout: options.timeoutMs,
    keepAlive: true,
    keepAliveDelay: HEARTBEAT_SECONDS * 1_000,
    clientProperties: { connection_name: options.connectionName },
  });
}

/**
 * Closes a connection, waiting at most `timeoutMs` for the broker's
 * close-ok; a broker that no longer answers would hold a plain close()
 * forever. Past the bound the socket is destroyed. Never throws.
 */
export async function closeBrokerConnection(connection: ChannelModel, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const gaveUp = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
  try {
    const outcome = await Promise.race([connection.close().then(() => 'closed' as const, () => 'closed' as const), gaveUp]);
    if (outcome === 'timeout') destroySocket(connection);
  } finally {
    clearTimeout(timer);
  }
}

/** Cuts the connection's socket at once; amqplib then emits 'close' with an error. */
export function destroySocket(connection: ChannelModel): void {
  (connection as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
}
