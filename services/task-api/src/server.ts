import { createServer as createHttp1Server, type RequestListener } from 'node:http';
import { createServer as createHttp2Server, type Http2ServerRequest, type Http2ServerResponse, type Http2Session } from 'node:http2';
import { createServer as createTcpServer, type AddressInfo, type Server, type Socket } from 'node:net';

// Every HTTP/2 connection without TLS ("prior knowledge", as gRPC clients
// speak it) opens with this preface; HTTP/1.1 requests start with a method.
const HTTP2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
const MAX_HEADER_BYTES = 64 * 1024;

export type DualProtocolHandler = (
  request: Http2ServerRequest | Parameters<RequestListener>[0],
  response: Http2ServerResponse | Parameters<RequestListener>[1],
) => void;

export interface DualProtocolServer {
  listen(port: number, host: string): Promise<AddressInfo>;
  /** Stops accepting connections, lets in-flight requests finish for `graceMs`, then cuts the rest. */
  close(graceMs: number): Promise<void>;
}

/**
 * One port for HTTP/1.1 and cleartext HTTP/2. Node's HTTP/2 server does not
 * fall back to HTTP/1.1 without TLS (ALPN), so a plain TCP server reads the
 * first bytes of each connection and hands the socket to the server that
 * speaks its protocol: gRPC (HTTP/2 only), gRPC-Web and Connect (either).
 */
export interface DualProtocolServerOptions {
  /**
   * Each step of opening a connection gets this long: sending the first
   * bytes that tell the protocol (the whole HTTP/2 preface), then sending
   * the first request's headers (HTTP/1.1) or opening the first stream
   * (HTTP/2). A connection that takes longer is closed, so clients that
   * connect and say nothing cannot hold sockets and memory for ever.
   */
  handshakeTimeoutMs: number;
}

export function createDualProtocolServer(handler: DualProtocolHandler, options: DualProtocolServerOptions): DualProtocolServer {
  const { handshakeTimeoutMs } = options;
  // Headers as large as HTTP/2's (Node's default SETTINGS_MAX_HEADER_LIST_SIZE,
  // 64 KiB), not HTTP/1.1's default 16 KiB: an oversized bearer token then
  // gets the same UNAUTHENTICATED "token too large" over Connect and gRPC-Web
  // on HTTP/1.1 as over gRPC, instead of a bare 431.
  const http1 = createHttp1Server({ maxHeaderSize: MAX_HEADER_BYTES }, handler as RequestListener);
  // Node's own headersTimeout is checked only for servers that listen
  // themselves; this one is handed its sockets, so the sniffing timer runs
  // on until the connection's first request head has arrived.
  const untilFirstRequest = new WeakMap<Socket, () => void>();
  http1.on('request', (request: Parameters<RequestListener>[0]) => {
    untilFirstRequest.get(request.socket)?.();
    untilFirstRequest.delete(request.socket);
  });
  const http2 = createHttp2Server(handler as (req: Http2ServerRequest, res: Http2ServerResponse) => void);
  const sockets = new Set<Socket>();
  const sessions = new Set<Http2Session>();
  http2.on('session', (session: Http2Session) => {
    sessions.add(session);
    // A session that never opens a stream (no SETTINGS, no request) is dropped.
    const firstStream = setTimeout(() => session.destroy(), handshakeTimeoutMs);
    session.once('stream', () => clearTimeout(firstStream));
    session.once('close', () => {
      clearTimeout(firstStream);
      sessions.delete(session);
    });
  });
  const tcp: Server = createTcpServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    const silent = setTimeout(() => socket.destroy(), handshakeTimeoutMs);
    const stopTimer = () => clearTimeout(silent);
    socket.once('close', stopTimer);
    sniffProtocol(socket, (isHttp2) => {
      if (isHttp2) {
        stopTimer(); // the session's own timer takes over (first stream)
        http2.emit('connection', socket);
      } else {
        untilFirstRequest.set(socket, stopTimer);
        http1.emit('connection', socket);
      }
    });
  });

  return {
    listen(port, host) {
      return new Promise((resolve, reject) => {
        tcp.once('error', reject);
        tcp.listen(port, host, () => {
          tcp.off('error', reject);
          resolve(tcp.address() as AddressInfo);
        });
      });
    },
    async close(graceMs) {
      const closed = new Promise<void>((resolve) => tcp.close(() => resolve()));
      // Idle keep-alive connections would hold close() open; in-flight
      // requests get the grace period.
      http1.closeIdleConnections();
      http1.close();
      http2.close();
      // Closing the server only refuses new connections; open HTTP/2 sessions
      // (a gateway's, a client's) must be told with GOAWAY to stop sending new
      // requests. Their in-flight streams finish, then the sessions close.
      for (const session of sessions) session.close();
      const timer = setTimeout(() => sockets.forEach((s) => s.destroy()), graceMs);
      await closed;
      clearTimeout(timer);
    },
  };
}

function sniffProtocol(socket: Socket, route: (isHttp2: boolean) => void): void {
  let received = Buffer.alloc(0);
  const onData = (chunk: Buffer) => {
    received = Buffer.concat([received, chunk]);
    const compared = Math.min(received.length, HTTP2_PREFACE.length);
    const matchesSoFar = received.subarray(0, compared).equals(HTTP2_PREFACE.subarray(0, compared));
    if (matchesSoFar && compared < HTTP2_PREFACE.length) return; // need more bytes to decide
    socket.off('data', onData);
    socket.pause();
    socket.unshift(received);
    route(matchesSoFar);
    // The HTTP/2 session reads what was unshifted from the socket's buffer on
    // its next tick; resuming would drain it into the void first. The
    // HTTP/1.1 server only listens for 'data', so it needs the stream flowing.
    if (!matchesSoFar) socket.resume();
  };
  socket.on('data', onData);
  socket.on('error', () => socket.destroy());
}
