import { context, propagation, ROOT_CONTEXT, type Context } from '@opentelemetry/api';

// W3C trace context (traceparent, tracestate) carried where no tracing
// library carries it for us: in the outbox row, between the create and the
// publish, and in the AMQP message headers, across the broker. With tracing
// off the global propagator is the API's no-op: nothing is written and every
// read yields the root context.

type Carrier = Record<string, string>;

/** The active context as the text stored with an outbox entry, or null when no span is recording. */
export function serializeTraceContext(from: Context = context.active()): string | null {
  const carrier: Carrier = {};
  propagation.inject(from, carrier);
  return carrier.traceparent ? JSON.stringify(carrier) : null;
}

/** The context stored by serializeTraceContext (the root context when there is none or it is unreadable). */
export function deserializeTraceContext(text: string | null | undefined): Context {
  if (!text) return ROOT_CONTEXT;
  try {
    const carrier = JSON.parse(text) as unknown;
    if (typeof carrier !== 'object' || carrier === null) return ROOT_CONTEXT;
    return propagation.extract(ROOT_CONTEXT, carrier as Carrier);
  } catch {
    return ROOT_CONTEXT;
  }
}

/** Adds traceparent/tracestate for `from` to AMQP message headers (returns the same object). */
export function injectIntoHeaders<T extends Record<string, unknown>>(headers: T, from: Context = context.active()): T {
  propagation.inject(from, headers, {
    set: (carrier, key, value) => {
      (carrier as Record<string, unknown>)[key] = value;
    },
  });
  return headers;
}

/** The context a caller sent in headers (AMQP headers, HTTP headers, gRPC metadata). */
export function extractFromHeaders(headers: Headers | Record<string, unknown> | undefined, base: Context = ROOT_CONTEXT): Context {
  if (!headers) return base;
  if (headers instanceof Headers) {
    return propagation.extract(base, headers, {
      get: (carrier, key) => carrier.get(key) ?? undefined,
      keys: (carrier) => {
        // forEach rather than keys(): the DOM typings without dom.iterable (the dashboard's tests) lack it.
        const keys: string[] = [];
        carrier.forEach((_value, key) => keys.push(key));
        return keys;
      },
    });
  }
  return propagation.extract(base, headers, {
    get: (carrier, key) => {
      const value = carrier[key];
      if (typeof value === 'string') return value;
      if (Buffer.isBuffer(value)) return value.toString('utf8'); // AMQP long strings may arrive as bytes
      if (Array.isArray(value) && typeof value[0] === 'string') return value as string[];
      return undefined;
    },
    keys: (carrier) => Object.keys(carrier),
  });
}
