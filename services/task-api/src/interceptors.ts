import { Code, ConnectError, type Interceptor } from '@connectrpc/connect';
import type { Logger } from '@taskproc/core';
import { toConnectError } from './error-mapping.js';
import { observeStreamEnd } from './stream-end.js';

/**
 * Maps every error a handler throws to a ConnectError (see error-mapping.ts)
 * and logs one line per request: procedure, code, duration. Errors
 * the server did not expect are logged with their cause; clients only ever
 * see the mapped message.
 */
export function requestInterceptor(logger: Logger): Interceptor {
  return (next) => async (request) => {
    const started = performance.now();
    const log = logger.child({ procedure: `${request.service.typeName}/${request.method.name}` });
    const finish = (error?: ConnectError) => {
      const code = error ? Code[error.code] : 'OK';
      const fields = { code, durationMs: Math.round((performance.now() - started) * 100) / 100 };
      if (error?.code === Code.Internal || error?.code === Code.Unknown) {
        log.error({ ...fields, err: error.cause ?? error }, 'request failed');
      } else if (error?.code === Code.Unavailable) {
        log.warn({ ...fields, err: error.cause ?? error }, 'request failed: dependency unavailable');
      } else {
        log.info(fields, 'request');
      }
    };
    try {
      const response = await next(request);
      if (!response.stream) {
        finish();
        return response;
      }
      return {
        ...response,
        message: observeStreamEnd(
          response.message,
          (end) => {
            // A stream the client stopped reading ends without a code: no line, as no answer was sent.
            if (end.kind === 'completed') finish();
            else if (end.kind === 'failed') finish(end.error as ConnectError);
          },
          toConnectError,
        ),
      };
    } catch (error) {
      const mapped = toConnectError(error);
      finish(mapped);
      throw mapped;
    }
  };
}
