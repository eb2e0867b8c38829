import { Code, ConnectError } from '@connectrpc/connect';
import { configureTextEncoding, getTextEncoding } from '@bufbuild/protobuf/wire';

/**
 * Request text must be valid UTF-8, as the REST gateways already insist:
 * the lenient decoders of connect-es and protobuf-es would turn invalid
 * bytes into U+FFFD, and the task would be stored with content the client
 * never sent.
 */

const FATAL_UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * The JSON decoder for Connect-protocol bodies (application/json): an
 * invalid byte anywhere refuses the request with INVALID_ARGUMENT.
 */
export const strictJsonTextDecoder = {
  decode(input?: Uint8Array): string {
    try {
      return FATAL_UTF8.decode(input);
    } catch (error) {
      throw new ConnectError('request body is not valid UTF-8', Code.InvalidArgument, undefined, undefined, error);
    }
  },
};

/** JS strings decoded from UTF-8 never hold a lone surrogate; this one marks bytes that were not UTF-8. */
const INVALID_UTF8_MARK = '\uD800';

/**
 * Binary protobuf (gRPC, Connect application/proto) checks string fields
 * strictly, but connect-es reports a decoding failure as INTERNAL, not as
 * the client's mistake, and offers no hook to change that. So strict
 * decoding marks an invalid string instead of throwing (a lone surrogate,
 * which no valid input can produce), and request validation refuses any
 * string that is not well formed (see validation.ts) with INVALID_ARGUMENT
 * naming the field. configureTextEncoding is protobuf-es's own process-wide
 * hook; valid input decodes exactly as before.
 */
let marking = false;

export function markInvalidUtf8InBinaryStrings(): void {
  if (marking) return; // once per process: every task-api in it shares the hook
  marking = true;
  const standard = getTextEncoding();
  configureTextEncoding({
    ...standard,
    decodeUtf8(bytes: Uint8Array, strict?: boolean): string {
      if (!strict) return standard.decodeUtf8(bytes);
      try {
        return FATAL_UTF8.decode(bytes);
      } catch {
        return standard.decodeUtf8(bytes) + INVALID_UTF8_MARK;
      }
    },
  });
}
