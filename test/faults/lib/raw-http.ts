import http from 'node:http';
import http2 from 'node:http2';

/** What came back for one raw request; `status` 0 means no answer (connection closed, timeout). */
export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** gRPC trailers (grpc-status, grpc-message), when the answer had any. */
  trailers: Record<string, string>;
  error?: string;
}

export interface RawRequest {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: Buffer | string;
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

/** An HTTP/1.1 request with exactly the method, path, headers and body given (no client-side checks). */
export function http1Request(port: number, request: RawRequest, timeoutMs = 20_000): Promise<RawResponse> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (response: RawResponse) => {
      if (!settled) {
        settled = true;
        resolve(response);
      }
    };
    const body = request.body === undefined ? undefined : Buffer.from(request.body);
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method: request.method,
        path: request.path,
        agent,
        headers: { ...(body ? { 'content-length': String(body.length) } : {}), ...request.headers },
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          done({ status: res.statusCode ?? 0, headers: flatten(res.headers), body: Buffer.concat(chunks).toString('utf8'), trailers: flatten(res.trailers) }),
        );
        res.on('error', (error) => done({ status: res.statusCode ?? 0, headers: flatten(res.headers), body: Buffer.concat(chunks).toString('utf8'), trailers: {}, error: error.message }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (error) => done({ status: 0, headers: {}, body: '', trailers: {}, error: error.message }));
    if (body) req.write(body);
    req.end();
  });
}

/** A cleartext HTTP/2 session for raw gRPC requests (one per scenario, re-opened if it dies). */
export class Http2Raw {
  private session: http2.ClientHttp2Session | null = null;

  constructor(private readonly port: number) {}

  request(request: RawRequest, timeoutMs = 20_000): Promise<RawResponse> {
    return new Promise((resolve) => {
      let settled = false;
      const done = (response: RawResponse) => {
        if (!settled) {
          settled = true;
          resolve(response);
        }
      };
      let stream: http2.ClientHttp2Stream;
      try {
        stream = this.open().request({ ':method': request.method, ':path': request.path, ...request.headers });
      } catch (error) {
        this.session = null;
        done({ status: 0, headers: {}, body: '', trailers: {}, error: String(error) });
        return;
      }
      let status = 0;
      let headers: Record<string, string> = {};
      let trailers: Record<string, string> = {};
      const chunks: Buffer[] = [];
      stream.setTimeout(timeoutMs, () => stream.close(http2.constants.NGHTTP2_CANCEL));
      stream.on('response', (h) => {
        status = Number(h[':status'] ?? 0);
        headers = flatten(h);
      });
      stream.on('trailers', (t) => (trailers = flatten(t)));
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('close', () => done({ status, headers, body: Buffer.concat(chunks).toString('utf8'), trailers }));
      stream.on('error', (error) => done({ status, headers, body: Buffer.concat(chunks).toString('utf8'), trailers, error: error.message }));
      // GET and HEAD streams are ended by the client itself (no body allowed).
      if (request.method === 'GET' || request.method === 'HEAD') stream.end();
      else stream.end(request.body === undefined ? undefined : Buffer.from(request.body));
    });
  }

  close(): void {
    this.session?.close();
    this.session = null;
  }

  private open(): http2.ClientHttp2Session {
    if (!this.session || this.session.closed || this.session.destroyed) {
      const session = http2.connect(`http://127.0.0.1:${this.port}`);
      session.on('error', () => {
        if (this.session === session) this.session = null;
      });
      session.on('close', () => {
        if (this.session === session) this.session = null;
      });
      this.session = session;
    }
    return this.session;
  }
}

function flatten(headers: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(headers)) if (value !== undefined) out[key] = Array.isArray(value) ? value.join(', ') : String(value);
  return out;
}
