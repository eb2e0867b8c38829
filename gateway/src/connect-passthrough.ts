import { Agent, request as httpRequest, type IncomingMessage, type ServerResponse, type ClientRequest } from 'node:http';
import { bearerChallenge, isOversizedAuthorization, TOKEN_TOO_LARGE } from './edge-auth.js';
import { REQUEST_TIMEOUT_MS } from './limits.js';

// Connect-protocol calls from browsers (the dashboard) pass through to
// task-api untouched: POST /<package>.<Service>/<Method> with a Connect
// content type, unary and server streaming alike, as Envoy's connect route
// does (gateway/envoy.yaml). task-api speaks Connect over HTTP/1.1 itself, so
// this is a plain reverse proxy: bodies are streamed both ways chunk by chunk
// (a WatchTasks message reaches the browser as soon as task-api writes it).
// gRPC clients keep talking to task-api directly (or through Envoy).
// The Authorization header passes with the others and task-api answers a
// bad token itself (a Connect error, 401); only a token too large to be one
// is refused here, as the REST routes refuse it, so it never reaches
// task-api's header parser.

/** The services whose Connect calls pass through. */
const SERVICE_PREFIXES = ['/taskproc.v1.TaskService/'];
/** Connect unary (application/json, application/proto) and streaming (application/connect+json|proto). */
const CONNECT_CONTENT_TYPE = /^application\/(json|proto|connect\+json|connect\+proto)(;|$)/i;
/** As Envoy's cluster connect_timeout. */
const CONNECT_TIMEOUT_MS = 2_000;
/** As Envoy's stream_idle_timeout: a stream with nothing sent either way this long is ended. */
const STREAM_IDLE_TIMEOUT_MS = 300_000;

const HOP_HEADERS = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'host']);

export function isConnectCall(request: IncomingMessage): boolean {
  const path = (request.url ?? '').split('?')[0]!;
  return request.method === 'POST' && SERVICE_PREFIXES.some((prefix) => path.startsWith(prefix));
}

export interface ConnectPassThrough {
  /** Forwards one call; resolves to the HTTP status sent once the exchange ends. */
  forward(request: IncomingMessage, response: ServerResponse): Promise<number>;
  /** Ends every call in flight and closes upstream connections. */
  close(): void;
}

export function createConnectPassThrough(upstreamUrl: string): ConnectPassThrough {
  const upstream = new URL(upstreamUrl);
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const inFlight = new Set<ClientRequest>();

  return {
    forward(request, response) {
      const contentType = request.headers['content-type'] ?? '';
      if (!CONNECT_CONTENT_TYPE.test(contentType)) {
        return Promise.resolve(connectError(response, 415, 'unimplemented', 'only the Connect protocol is served here; use gRPC against task-api'));
      }
      if (isOversizedAuthorization(singleValue(request.headers.authorization))) {
        return Promise.resolve(connectError(response, 401, 'unauthenticated', TOKEN_TOO_LARGE, { 'www-authenticate': bearerChallenge(true) }));
      }
      const streaming = /connect\+/i.test(contentType);
      return new Promise<number>((done) => {
        const outgoing = httpRequest({
          agent,
          protocol: upstream.protocol,
          hostname: upstream.hostname,
          port: upstream.port,
          method: 'POST',
          path: request.url,
          headers: forwardedHeaders(request),
        });
        inFlight.add(outgoing);
        let settled = false;
        const finish = (status: number) => {
          if (settled) return;
          settled = true;
          inFlight.delete(outgoing);
          clearTimeout(deadline);
          done(status);
        };
        // Unary calls get the REST routes' end-to-end bound; streams only the idle one.
        const deadline = streaming
          ? undefined
          : setTimeout(() => {
              outgoing.destroy();
              if (!response.headersSent) finish(connectError(response, 504, 'deadline_exceeded', 'upstream timed out'));
              else response.destroy();
            }, REQUEST_TIMEOUT_MS);

        // A new connection gets CONNECT_TIMEOUT_MS to connect (a kept-alive
        // one is connected already); then nothing may be idle longer than
        // STREAM_IDLE_TIMEOUT_MS, either way.
        outgoing.on('socket', (socket) => {
          if (!socket.connecting) return;
          const connectTimer = setTimeout(() => outgoing.destroy(new Error('upstream connect timeout')), CONNECT_TIMEOUT_MS);
          socket.once('connect', () => clearTimeout(connectTimer));
          socket.once('close', () => clearTimeout(connectTimer));
        });
        outgoing.setTimeout(STREAM_IDLE_TIMEOUT_MS, () => outgoing.destroy(new Error('upstream idle timeout')));
        outgoing.on('error', () => {
          if (!response.headersSent) finish(connectError(response, 503, 'unavailable', 'upstream unavailable'));
          else {
            response.destroy();
            finish(response.statusCode);
          }
        });
        outgoing.on('response', (answer) => {
          const headers = { ...answer.headers };
          for (const name of HOP_HEADERS) delete headers[name];
          response.writeHead(answer.statusCode ?? 502, headers);
          response.flushHeaders();
          // Backpressure: a browser that stops reading pauses the upstream
          // stream, so task-api's bounded per-watcher buffer (not this
          // process's memory) decides when a slow watcher is cut off.
          answer.on('data', (chunk: Buffer) => {
            if (!response.write(chunk)) {
              answer.pause();
              response.once('drain', () => answer.resume());
            }
          });
          answer.on('end', () => {
            response.end();
            finish(answer.statusCode ?? 502);
          });
          answer.on('error', () => {
            response.destroy();
            finish(answer.statusCode ?? 502);
          });
        });
        // The browser went away (a watch closed, a page left): stop the call upstream too.
        response.on('close', () => {
          if (!response.writableFinished) outgoing.destroy();
          finish(response.statusCode);
        });
        request.pipe(outgoing);
      });
    },
    close() {
      for (const outgoing of inFlight) outgoing.destroy();
      inFlight.clear();
      agent.destroy();
    },
  };
}

function forwardedHeaders(request: IncomingMessage): Record<string, string | string[]> {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined || HOP_HEADERS.has(name)) continue;
    headers[name] = value;
  }
  headers['x-forwarded-for'] = request.socket.remoteAddress ?? '';
  headers['x-forwarded-proto'] = 'http';
  return headers;
}

function singleValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(',') : value;
}

/** A Connect error answer (JSON body, HTTP status by code), which connect-web reads for unary and streaming calls. */
function connectError(response: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}): number {
  const body = JSON.stringify({ code, message });
  response.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  response.end(body);
  return status;
}
