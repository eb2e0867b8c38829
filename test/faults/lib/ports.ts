import { createServer, type AddressInfo } from 'node:net';

/**
 * A TCP port that was free a moment ago on 127.0.0.1. Services get fixed
 * ports (rather than 0) so a restarted task-api comes back where clients and
 * the gateway expect it.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
