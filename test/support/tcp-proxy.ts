import { createServer, connect, type AddressInfo, type Socket } from 'node:net';

export interface TcpProxy {
  port: number;
  /** Rewrites a URL's host and port to go through the proxy. */
  via(url: string): string;
  /** Cuts every open connection and refuses new ones: the service looks down. */
  block(): void;
  /** Accepts connections again: the service is back. */
  unblock(): void;
  /**
   * A silent blackhole, as a broken network or a failed-over host makes:
   * open connections stay open but nothing more passes either way, and new
   * connections are accepted and then ignored. No reset, no close.
   */
  stall(): void;
  /** Ends the blackhole: the stalled connections are cut (as a network that comes back finds them dead) and new ones pass. */
  unstall(): void;
  close(): Promise<void>;
}

/**
 * A TCP proxy in front of a real service, so a test can make that service
 * unreachable for this test alone (stopping the real PostgreSQL or RabbitMQ
 * would disturb every other test running at the same time).
 */
export async function startTcpProxy(targetUrl: string, defaultPort: number): Promise<TcpProxy> {
  const target = new URL(targetUrl);
  const targetPort = Number(target.port) || defaultPort;
  const open = new Set<Socket>();
  const stalled = new Set<Socket>();
  let blocked = false;
  let silent = false;

  const hold = (socket: Socket) => {
    socket.unpipe();
    socket.removeAllListeners('data');
    socket.on('data', () => {}); // read and drop: nothing reaches the other side
    socket.on('error', () => {});
    stalled.add(socket);
  };

  const server = createServer((client) => {
    if (blocked) {
      client.destroy();
      return;
    }
    if (silent) {
      hold(client);
      return;
    }
    const upstream = connect({ host: target.hostname, port: targetPort });
    for (const socket of [client, upstream]) {
      open.add(socket);
      socket.once('close', () => open.delete(socket));
      socket.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  return {
    port,
    via(url) {
      const rewritten = new URL(url);
      rewritten.hostname = '127.0.0.1';
      rewritten.port = String(port);
      return rewritten.toString();
    },
    block() {
      blocked = true;
      for (const socket of open) socket.destroy();
    },
    unblock() {
      blocked = false;
    },
    stall() {
      silent = true;
      for (const socket of open) hold(socket);
    },
    unstall() {
      silent = false;
      for (const socket of stalled) socket.destroy();
      stalled.clear();
    },
    async close() {
      blocked = true;
      for (const socket of [...open, ...stalled]) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
