import { ConnectError, type Transport } from '@connectrpc/connect';
import { createGrpcTransport, Http2SessionManager } from '@connectrpc/connect-node';
import { create, toJsonString, type DescMessage, type DescMethod, type MessageShape, type Registry } from '@bufbuild/protobuf';
import { AnySchema, anyPack } from '@bufbuild/protobuf/wkt';
import { createGrpcUnaryClient, DeadlineError, type GrpcUnaryClient } from './grpc-unary.js';
import { httpStatusOfGrpcCode } from './grpc-http-status.js';
import { printLikeTranscoder, protobufJsonString, escapeLikeProtobuf } from './proto-json.js';
import type { RestResponse } from './rest-shape.js';

// The gateway's side of the wire to task-api: gRPC over HTTP/2 cleartext,
// as Envoy's cluster speaks it, and the transcoded answer Envoy's
// gRPC-JSON transcoder would hand on (before the REST shape rule).

/** A transcoded answer, with the response metadata the REST edge turns into HTTP headers. */
export interface TranscodedResponse extends RestResponse {
  /** task-api's `retry-after` (seconds) on a RESOURCE_EXHAUSTED, from the gRPC trailers or headers. */
  retryAfter?: string;
}

export interface Upstream {
  /** Unary calls (every REST route but the watches). */
  unary: GrpcUnaryClient;
  /** Server-streaming calls, through connect's gRPC transport. */
  transport: Transport;
  close(): void;
}

const IDLE_CONNECTION_TIMEOUT_MS = 60_000;

export function connectUpstream(baseUrl: string): Upstream {
  // An HTTP/2 connection for unary calls and one for streams, each opened
  // when first needed and closed explicitly on shutdown.
  const unary = createGrpcUnaryClient(baseUrl, { idleConnectionTimeoutMs: IDLE_CONNECTION_TIMEOUT_MS });
  const sessionManager = new Http2SessionManager(baseUrl, { idleConnectionTimeoutMs: IDLE_CONNECTION_TIMEOUT_MS });
  const transport = createGrpcTransport({ baseUrl, sessionManager });
  return {
    unary,
    transport,
    close: () => {
      unary.close();
      sessionManager.abort();
    },
  };
}

/** Why no gRPC status came back: Envoy answers these itself (a local reply). */
export class UpstreamFailure extends Error {
  constructor(
    readonly httpStatus: 503 | 504,
    options: { cause: unknown },
  ) {
    super(httpStatus === 504 ? 'upstream timed out' : 'upstream unavailable', options);
    this.name = 'UpstreamFailure';
  }
}

const JSON_CONTENT_TYPE = 'application/json';
const CONNECT_ATTEMPTS = 3; // Envoy: retry_on connect-failure, num_retries 2

/**
 * Calls one unary method. Resolves to the transcoded response: 200 with the
 * message as JSON, or the gRPC error as an HTTP status with a google.rpc.Status
 * body (convert_grpc_status). Rejects with UpstreamFailure when task-api
 * could not be reached or did not answer in time.
 */
export async function callUnary(
  client: GrpcUnaryClient,
  method: DescMethod & { methodKind: 'unary' },
  input: MessageShape<DescMessage>,
  options: { headers: Readonly<Record<string, string>>; timeoutMs: number; registry: Registry },
): Promise<TranscodedResponse> {
  const deadline = Date.now() + options.timeoutMs;
  for (let attempt = 1; ; attempt += 1) {
    try {
      const message = await client.call(method, input, options.headers, deadline - Date.now());
      return { status: 200, contentType: JSON_CONTENT_TYPE, body: printLikeTranscoder(method.output, message, options.registry) };
    } catch (error) {
      if (error instanceof DeadlineError || Date.now() >= deadline) throw new UpstreamFailure(504, { cause: error });
      const failure = ConnectError.from(error);
      if (isTransportFailure(failure)) {
        // Only a refused connection is retried: the request cannot have been sent.
        if (isConnectionRefused(failure) && attempt < CONNECT_ATTEMPTS) continue;
        throw new UpstreamFailure(503, { cause: error });
      }
      return transcodedError(failure, options.registry);
    }
  }
}

/** A ConnectError made on this side (network, protocol), not a status task-api sent. */
export function isTransportFailure(error: ConnectError): boolean {
  // connect-node keeps the Node.js error as the cause; statuses read from
  // gRPC trailers have none.
  return error.cause !== undefined;
}

function isConnectionRefused(error: unknown): boolean {
  for (let cause = error; cause instanceof Error; cause = cause.cause) {
    if ((cause as NodeJS.ErrnoException).code === 'ECONNREFUSED') return true;
  }
  return false;
}

/** What convert_grpc_status makes of a gRPC error, and the retry-after that came with it. */
export function transcodedError(error: ConnectError, registry: Registry): TranscodedResponse {
  const status = httpStatusOfGrpcCode(error.code);
  // connect-node's gRPC client merges the response headers and trailers
  // into the error's metadata (task-api's error metadata is in the trailers).
  const retryAfter = error.metadata.get('retry-after') ?? undefined;
  const details = printDetails(error, registry);
  // Envoy cannot print a detail whose type is not in its descriptor set; it
  // then sends no body, and the REST shape rule puts its fixed message in.
  if (details === undefined) return { status, contentType: JSON_CONTENT_TYPE, body: '', retryAfter };
  return {
    status,
    contentType: JSON_CONTENT_TYPE,
    body: `{"code":${error.code},"message":${protobufJsonString(error.rawMessage)},"details":[${details.join(',')}]}`,
    retryAfter,
  };
}

function printDetails(error: ConnectError, registry: Registry): string[] | undefined {
  const printed: string[] = [];
  for (const detail of error.details) {
    const any =
      'desc' in detail
        ? anyPack(detail.desc, create(detail.desc, detail.value))
        : create(AnySchema, { typeUrl: `type.googleapis.com/${detail.type}`, value: detail.value });
    try {
      printed.push(escapeLikeProtobuf(toJsonString(AnySchema, any, { registry, alwaysEmitImplicit: true, useProtoFieldName: true })));
    } catch {
      return undefined;
    }
  }
  return printed;
}
