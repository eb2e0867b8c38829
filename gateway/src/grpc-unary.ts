import { connect, constants as h2, type ClientHttp2Session, type IncomingHttpHeaders, type IncomingHttpStatusHeader, type OutgoingHttpHeaders } from 'node:http2';
import { fromBinary, toBinary, type DescMessage, type DescMethod, type MessageShape } from '@bufbuild/protobuf';
import { Code, ConnectError } from '@connectrpc/connect';
import { validateResponseWithCompression, validateTrailer } from '@connectrpc/connect/protocol-grpc';

// Unary gRPC calls to task-api straight on node:http2: one request message,
// already encoded and framed in one buffer, written with the headers on a
// stream of one shared HTTP/2 session, and the answer read from the stream's
// events. Connect's client transport does the same through a pipeline of
// async iterables, an abort controller, a Headers object per direction and a
// ConnectError for every call it ends normally; that cost more gateway CPU per
// REST request than the rest of the request together (docs/performance.md,
// "The REST gateway's cost per request"). Only the common answer — HTTP 200,
// a gRPC content type, one uncompressed message, grpc-status 0 — is read
// here; anything else goes through connect's own gRPC validation
// (validateResponseWithCompression, validateTrailer) so that an error reaches
// the REST mapping as the ConnectError connect's transport would have thrown:
// the same code, message, details and metadata (headers and trailers).
// Failures of the connection or the stream are ConnectErrors with the Node.js
// error as their cause, as connect-node's are, or the ConnectError of an
// HTTP/2 reset code (connect-node's table).

/** The call did not end before its deadline (the stream has been cancelled). */
export class DeadlineError extends Error {
  constructor() {
    super('upstream deadline exceeded');
    this.name = 'DeadlineError';
  }
}

export interface GrpcUnaryClient {
  /** Resolves to the response message; rejects with a ConnectError or a DeadlineError. */
  call<O extends DescMessage>(method: DescMethod & { methodKind: 'unary'; output: O }, input: MessageShape<DescMessage>, metadata: Readonly<Record<string, string>>, timeoutMs: number): Promise<MessageShape<O>>;
  /** Closes the session; calls in flight fail. */
  close(): void;
}

const GRPC_CONTENT_TYPE = /^application\/grpc(?:\+proto)?(?:;|$)/i;
// Names the gateway in task-api's request logs (the client-side user agent
// of the REST caller is not forwarded on this hop).
const USER_AGENT = 'taskproc-gateway';

export function createGrpcUnaryClient(baseUrl: string, options: { idleConnectionTimeoutMs: number }): GrpcUnaryClient {
  const authority = new URL(baseUrl).origin;
  let current: Promise<ClientHttp2Session> | undefined;
  let closed = false;
  const paths = new WeakMap<DescMethod, string>();

  // One session, opened on the first call and again after it went away
  // (closed, GOAWAY, failed, idle): a call waits for the connection, so a
  // refused one rejects with ECONNREFUSED in its cause (the caller retries that).
  function session(): Promise<ClientHttp2Session> {
    if (current) return current;
    const opened = new Promise<ClientHttp2Session>((resolve, reject) => {
      const candidate = connect(authority);
      const forget = () => {
        if (current === opened) current = undefined;
      };
      candidate.once('connect', () => {
        candidate.off('error', reject);
        resolve(candidate);
      });
      candidate.once('error', reject);
      candidate.on('error', forget);
      candidate.once('goaway', forget);
      candidate.once('close', forget);
      candidate.setTimeout(options.idleConnectionTimeoutMs, () => {
        forget();
        candidate.close();
      });
    });
    opened.catch(() => {
      if (current === opened) current = undefined;
    });
    current = opened;
    return opened;
  }

  async function call<O extends DescMessage>(
    method: DescMethod & { methodKind: 'unary'; output: O },
    input: MessageShape<DescMessage>,
    metadata: Readonly<Record<string, string>>,
    timeoutMs: number,
  ): Promise<MessageShape<O>> {
    if (closed) throw transportFailure(new Error('the gateway is closing'));
    const started = Date.now();
    let h2session: ClientHttp2Session;
    try {
      h2session = await session();
    } catch (error) {
      throw transportFailure(error);
    }
    const remaining = timeoutMs - (Date.now() - started);
    if (remaining <= 0) throw new DeadlineError();
    let path = paths.get(method);
    if (path === undefined) paths.set(method, (path = `/${method.parent.typeName}/${method.name}`));
    const headers: OutgoingHttpHeaders = {
      ...metadata,
      [h2.HTTP2_HEADER_METHOD]: 'POST',
      [h2.HTTP2_HEADER_PATH]: path,
      [h2.HTTP2_HEADER_CONTENT_TYPE]: 'application/grpc+proto',
      [h2.HTTP2_HEADER_USER_AGENT]: USER_AGENT,
      [h2.HTTP2_HEADER_TE]: 'trailers',
    };
    const body = frame(toBinary(method.input, input));

    return new Promise<MessageShape<O>>((resolve, reject) => {
      let stream;
      try {
        stream = h2session.request(headers, { endStream: false });
      } catch (error) {
        reject(transportFailure(error));
        return;
      }
      let status = 0;
      let header: IncomingHttpHeaders & IncomingHttpStatusHeader = {};
      let trailer: IncomingHttpHeaders | undefined;
      const chunks: Buffer[] = [];
      let settled = false;
      const settle = (outcome: () => MessageShape<O>) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        try {
          resolve(outcome());
        } catch (error) {
          reject(error);
        }
      };
      const timer = setTimeout(() => {
        settle(() => {
          throw new DeadlineError();
        });
        stream.close(h2.NGHTTP2_CANCEL);
      }, remaining);
      stream.on('response', (received) => {
        header = received;
        status = Number(received[h2.HTTP2_HEADER_STATUS]);
      });
      stream.on('trailers', (received) => {
        trailer = received;
      });
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => settle(() => answer(method.output, status, header, trailer, chunks)));
      stream.on('error', (error) => settle(() => {
        throw transportFailure(error);
      }));
      stream.on('close', () => settle(() => {
        throw resetError(stream.rstCode) ?? transportFailure(new Error('http/2 stream closed before the answer ended'));
      }));
      stream.end(body);
    });
  }

  return {
    call,
    close() {
      closed = true;
      const closing = current;
      current = undefined;
      void closing?.then((s) => s.destroy(), () => {});
    },
  };
}

/** The gRPC length-prefixed message: flag 0 (uncompressed), 4-byte big-endian length, the bytes. */
function frame(message: Uint8Array): Buffer {
  const framed = Buffer.allocUnsafe(5 + message.length);
  framed[0] = 0;
  framed.writeUInt32BE(message.length, 1);
  framed.set(message, 5);
  return framed;
}

function answer<O extends DescMessage>(
  output: O,
  status: number,
  header: IncomingHttpHeaders,
  trailer: IncomingHttpHeaders | undefined,
  chunks: Buffer[],
): MessageShape<O> {
  const data = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
  // The common answer: one uncompressed message, then grpc-status 0 alone.
  if (
    status === 200 &&
    GRPC_CONTENT_TYPE.test(String(header[h2.HTTP2_HEADER_CONTENT_TYPE] ?? '')) &&
    header['grpc-status'] === undefined &&
    (header['grpc-encoding'] === undefined || header['grpc-encoding'] === 'identity') &&
    trailer?.['grpc-status'] === '0' &&
    trailer['grpc-status-details-bin'] === undefined &&
    data.length >= 5 &&
    data[0] === 0 &&
    data.readUInt32BE(1) === data.length - 5
  ) {
    return fromBinary(output, data.subarray(5));
  }
  return unusualAnswer(output, status, header, trailer ?? {}, data);
}

/** Everything else, judged as connect's gRPC transport judges it (validate-response, validate-trailer, its unary checks). */
function unusualAnswer<O extends DescMessage>(output: O, status: number, nodeHeader: IncomingHttpHeaders, nodeTrailer: IncomingHttpHeaders, data: Buffer): MessageShape<O> {
  const header = webHeaders(nodeHeader);
  const trailer = webHeaders(nodeTrailer);
  // No compression is offered, so any grpc-encoding but identity is refused here.
  const { headerError } = validateResponseWithCompression([], status, header);
  const messages: Uint8Array[] = [];
  for (let at = 0; at < data.length; ) {
    if (data.length - at < 5) throw new ConnectError('protocol error: promised 5 bytes in enveloped message, got ' + String(data.length - at) + ' bytes', Code.InvalidArgument);
    const flags = data[at]!;
    const length = data.readUInt32BE(at + 1);
    if (data.length - at - 5 < length) throw new ConnectError(`protocol error: promised ${length} bytes in enveloped message, got ${data.length - at - 5} bytes`, Code.InvalidArgument);
    if ((flags & 0b00000001) === 0b00000001) throw new ConnectError('protocol error: received compressed output without compression', Code.Internal);
    messages.push(data.subarray(at + 5, at + 5 + length));
    at += 5 + length;
  }
  if (messages.length > 1) throw new ConnectError('protocol error: received extra output message for unary method', Code.Unimplemented);
  validateTrailer(trailer, header);
  if (messages.length === 0) {
    if (headerError) throw headerError;
    throw new ConnectError('protocol error: missing output message for unary method', trailer.has('grpc-status') ? Code.Unimplemented : Code.Unknown);
  }
  if (headerError) throw new ConnectError('protocol error: received output message for unary method with error status', Code.Unknown);
  return fromBinary(output, messages[0]!);
}

/** Node.js headers as connect-node hands them on (pseudo-headers left out). */
function webHeaders(node: IncomingHttpHeaders): Headers {
  const headers = new Headers();
  for (const [name, value] of Object.entries(node)) {
    if (name.startsWith(':') || value === undefined) continue;
    if (Array.isArray(value)) for (const item of value) headers.append(name, item);
    else headers.append(name, value);
  }
  return headers;
}

// connect-node's mapping of Node.js errors (connectErrorFromNodeReason):
// the Node.js error stays the cause, which marks the failure as this side's.
function transportFailure(reason: unknown): ConnectError {
  const codes = causeCodes(reason);
  let code = Code.Internal;
  if (codes.some((c) => c === 'ERR_STREAM_WRITE_AFTER_END' || c === 'ERR_STREAM_DESTROYED' || c === 'ERR_HTTP2_INVALID_STREAM' || c === 'ECONNRESET')) code = Code.Aborted;
  else if (codes.some((c) => c === 'ETIMEDOUT' || c === 'ENOTFOUND' || c === 'EAI_AGAIN' || c === 'ECONNREFUSED')) code = Code.Unavailable;
  const error = new ConnectError(reason instanceof Error ? reason.message : String(reason), code);
  error.cause = reason;
  return error;
}

function causeCodes(reason: unknown): string[] {
  const codes: string[] = [];
  const seen = new Set<unknown>();
  for (let cause = reason; cause instanceof Error && !seen.has(cause); cause = cause.cause) {
    seen.add(cause);
    const { code } = cause as NodeJS.ErrnoException;
    if (typeof code === 'string') codes.push(code);
  }
  return codes;
}

const RESET_CODES: Readonly<Record<number, readonly [string, Code]>> = {
  [h2.NGHTTP2_PROTOCOL_ERROR]: ['PROTOCOL_ERROR', Code.Internal],
  [h2.NGHTTP2_INTERNAL_ERROR]: ['INTERNAL_ERROR', Code.Internal],
  [h2.NGHTTP2_FLOW_CONTROL_ERROR]: ['FLOW_CONTROL_ERROR', Code.Internal],
  [h2.NGHTTP2_SETTINGS_TIMEOUT]: ['SETTINGS_TIMEOUT', Code.Internal],
  [h2.NGHTTP2_FRAME_SIZE_ERROR]: ['FRAME_SIZE_ERROR', Code.Internal],
  [h2.NGHTTP2_COMPRESSION_ERROR]: ['COMPRESSION_ERROR', Code.Internal],
  [h2.NGHTTP2_CONNECT_ERROR]: ['CONNECT_ERROR', Code.Internal],
  [h2.NGHTTP2_REFUSED_STREAM]: ['REFUSED_STREAM', Code.Unavailable],
  [h2.NGHTTP2_CANCEL]: ['CANCEL', Code.Canceled],
  [h2.NGHTTP2_ENHANCE_YOUR_CALM]: ['ENHANCE_YOUR_CALM', Code.ResourceExhausted],
  [h2.NGHTTP2_INADEQUATE_SECURITY]: ['INADEQUATE_SECURITY', Code.PermissionDenied],
  [h2.NGHTTP2_HTTP_1_1_REQUIRED]: ['HTTP_1_1_REQUIRED', Code.PermissionDenied],
};

/** connect-node's ConnectError for a stream reset (connectErrorFromH2ResetCode); none for NO_ERROR or STREAM_CLOSED. */
function resetError(rstCode: number | undefined): ConnectError | undefined {
  const known = rstCode === undefined ? undefined : RESET_CODES[rstCode];
  if (!known) return undefined;
  return new ConnectError(`http/2 stream closed with error code ${known[0]} (0x${rstCode!.toString(16)})`, known[1]);
}
