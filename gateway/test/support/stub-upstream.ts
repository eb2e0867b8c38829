import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import type { ConnectRouter } from '@connectrpc/connect';
import { connectNodeAdapter } from '@connectrpc/connect-node';

export interface StubUpstream {
  /** http://127.0.0.1:<port>, gRPC over HTTP/2 cleartext like task-api. */
  url: string;
  close(): Promise<void>;
}

/** An in-process ConnectRPC server on a free port (or `port`: a restart), for gateway tests that need no database. */
export async function startStubUpstream(routes: (router: ConnectRouter) => void, port = 0): Promise<StubUpstream> {
  const sessions = new Set<http2.ServerHttp2Session>();
  const server = http2.createServer(connectNodeAdapter({ routes }));
  server.on('session', (session) => {
    sessions.add(session);
    session.once('close', () => sessions.delete(session));
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const address = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const session of sessions) session.destroy();
      }),
  };
}
