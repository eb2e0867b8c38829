import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { DescMethod, Registry } from '@bufbuild/protobuf';
import type { Transport } from '@connectrpc/connect';
import type { GrpcUnaryClient } from './grpc-unary.js';
import type { Logger } from '@taskproc/core';
import { checkBodyFields } from './body-fields.js';
import { errorHeaders } from './edge-auth.js';
import { applyIdempotencyKey } from './idempotency-key.js';
import { MAX_REQUEST_BODY_BYTES } from './limits.js';
import { BodyTooLargeError, readBody } from './request-body.js';
import { buildRequestMessage, RequestMappingError } from './request-message.js';
import { checkRequest, localReply, rewriteListQuery, shapeResponse, shapeSseFrame, type RestRequest, type RestResponse } from './rest-shape.js';
import { parseQuery, type RouteTable } from './route-table.js';
import { callServerStream } from './stream-upstream.js';
import { callUnary, UpstreamFailure, type TranscodedResponse } from './upstream.js';

// One REST request, in the order Envoy's filter chain handles it: the Lua
// filter's size checks (body, token), the transcoder's route lookup and body
// parsing, the upstream call, then the REST shape rule on whatever came
// back. The Authorization header goes to task-api with the other headers;
// task-api verifies it (Envoy's jwt_authn does before it there).

export interface GatewayDeps {
  routes: RouteTable;
  /** Unary calls to task-api. */
  unary: GrpcUnaryClient;
  /** Server-streaming calls to task-api. */
  transport: Transport;
  registry: Registry;
  /** Wraps the upstream call (its client span; see telemetry.ts). */
  callUpstream?: <T>(procedure: string, headers: Record<string, string>, call: () => Promise<T>) => Promise<T>;
  requestTimeoutMs: number;
}

/** A REST answer; `frames` (already in their REST shape) follow the headers of a server stream. */
export type GatewayAnswer = RestResponse & { frames?: AsyncIterable<string> };

export async function handleRestRequest(incoming: IncomingMessage, deps: GatewayDeps, log: Logger, signal: AbortSignal): Promise<GatewayAnswer> {
  const received: RestRequest = { method: incoming.method ?? 'GET', path: incoming.url ?? '/' };
  const authorization = singleHeader(incoming.headers.authorization);
  const refusal = checkRequest({ contentLength: incoming.headers['content-length'], authorization });
  if (refusal) return refusal;
  const rewritten = rewriteListQuery(received);
  if ('status' in rewritten) return rewritten;
  const request: RestRequest = { method: received.method, path: rewritten.path };

  const [path = '/', query = ''] = splitOnce(request.path, '?');
  const match = deps.routes.match(request.method, path);
  if (!match) return localReply(404);
  const queryBindings = parseQuery(query);
  if (!queryBindings) return localReply(400);

  let input;
  try {
    const received = await readBody(incoming, MAX_REQUEST_BODY_BYTES);
    const unknownField = checkBodyFields({ ...request, body: received });
    if (unknownField) return unknownField;
    const keyed = applyIdempotencyKey({ ...request, idempotencyKey: singleHeader(incoming.headers['idempotency-key']), body: received });
    if ('refusal' in keyed) return keyed.refusal;
    const { body } = keyed;
    input = buildRequestMessage(match.route, { body, bindings: [...match.pathBindings, ...queryBindings] }, deps.registry);
  } catch (error) {
    if (error instanceof BodyTooLargeError) return localReply(413);
    if (error instanceof RequestMappingError) {
      log.debug({ err: error.cause ?? error }, 'request not transcodable');
      return localReply(400);
    }
    throw error;
  }

  try {
    const method = match.route.method as DescMethod;
    const headers = upstreamHeaders(incoming);
    const shape = (response: TranscodedResponse) => withErrorHeaders(shapeResponse(request, response), authorization !== undefined, response.retryAfter);
    if (method.methodKind === 'server_streaming') {
      const answer = await callServerStream(deps.transport, method as DescMethod & { methodKind: 'server_streaming' }, input, { headers: new Headers(headers), signal, registry: deps.registry });
      if (answer.kind === 'error') return shape(answer.response);
      return { status: 200, contentType: 'text/event-stream', body: '', frames: shapeFrames(answer.frames) };
    }
    if (method.methodKind !== 'unary') return localReply(404);
    const unary = method as DescMethod & { methodKind: 'unary' };
    const call = () => callUnary(deps.unary, unary, input, { headers, timeoutMs: deps.requestTimeoutMs, registry: deps.registry });
    const transcoded = await (deps.callUpstream ? deps.callUpstream(`${method.parent.typeName}/${method.name}`, headers, call) : call());
    return shape(transcoded);
  } catch (error) {
    if (error instanceof UpstreamFailure) {
      log.warn({ err: error.cause, status: error.httpStatus }, error.message);
      return localReply(error.httpStatus);
    }
    throw error;
  }
}

/** An error answer gets its WWW-Authenticate (401) or Retry-After (429) header. */
function withErrorHeaders(answer: RestResponse, hadCredentials: boolean, retryAfter: string | undefined): RestResponse {
  if (answer.status < 400) return answer;
  return { ...answer, headers: { ...answer.headers, ...errorHeaders(answer.status, { hadCredentials, retryAfter }) } };
}

/** A repeated header is joined as Envoy joins it, so it fails the key's alphabet in both gateways. */
function singleHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(',') : value;
}

async function* shapeFrames(frames: AsyncIterable<string>): AsyncGenerator<string> {
  for await (const frame of frames) yield shapeSseFrame(frame);
}

function splitOnce(text: string, separator: string): [string, string] {
  const at = text.indexOf(separator);
  return at < 0 ? [text, ''] : [text.slice(0, at), text.slice(at + 1)];
}

// Headers that belong to this hop or to the gRPC protocol; Envoy does not
// forward them as metadata either.
const HOP_HEADERS = new Set([
  'host', 'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer',
  'content-type', 'content-length', 'content-encoding', 'accept', 'accept-encoding', 'expect', 'user-agent',
]);

/**
 * Request headers forwarded as gRPC metadata, plus the x-forwarded-* and
 * x-request-id Envoy adds. A plain object (names are lower case, as Node.js
 * reads them); a repeated header is one value joined with ", ", as a Headers
 * object would send it.
 */
function upstreamHeaders(incoming: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const name in incoming.headers) {
    const value = incoming.headers[name];
    if (value === undefined || HOP_HEADERS.has(name) || name.startsWith('grpc-') || name.startsWith('connect-')) continue;
    headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  // Envoy's use_remote_address: the client is the connection's peer.
  headers['x-forwarded-for'] = incoming.socket.remoteAddress ?? '';
  headers['x-forwarded-proto'] = 'http';
  headers['x-request-id'] ??= randomUUID();
  return headers;
}
