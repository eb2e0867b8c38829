import { describe, expect, it } from 'vitest';
import { ConfigError, EnvReader } from '../src/config/env.js';
import { readTracingConfig } from '../src/telemetry/telemetry-config.js';

function read(env: Record<string, string>) {
  const reader = new EnvReader(env);
  return reader.done(readTracingConfig(reader, 'taskproc-test'));
}

describe('readTracingConfig', () => {
  it('is off without an endpoint', () => {
    expect(read({})).toMatchObject({ enabled: false, tracesUrl: '', serviceName: 'taskproc-test', sampleRatio: 1 });
    expect(read({ OTEL_EXPORTER_OTLP_ENDPOINT: '' }).enabled).toBe(false);
  });

  it('appends /v1/traces to the base endpoint; the traces endpoint is used as given', () => {
    expect(read({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://jaeger:4318/' })).toMatchObject({ enabled: true, tracesUrl: 'http://jaeger:4318/v1/traces' });
    expect(
      read({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://a:4318', OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'https://b/otlp/traces' }).tracesUrl,
    ).toBe('https://b/otlp/traces');
  });

  it('honours OTEL_SDK_DISABLED, OTEL_TRACES_EXPORTER=none, the service name, headers and the ratio sampler', () => {
    const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' };
    expect(read({ ...endpoint, OTEL_SDK_DISABLED: 'true' }).enabled).toBe(false);
    expect(read({ ...endpoint, OTEL_TRACES_EXPORTER: 'none' }).enabled).toBe(false);
    expect(read({ ...endpoint, OTEL_SERVICE_NAME: 'api-eu' }).serviceName).toBe('api-eu');
    expect(read({ ...endpoint, OTEL_EXPORTER_OTLP_HEADERS: 'a=1,b=x%20y', OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'a=2' }).headers).toEqual({ a: '2', b: 'x y' });
    expect(read({ ...endpoint, OTEL_TRACES_SAMPLER: 'parentbased_traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.25' }).sampleRatio).toBe(0.25);
    expect(read({ ...endpoint, OTEL_TRACES_SAMPLER_ARG: '0.25' }).sampleRatio).toBe(1);
    expect(read({ ...endpoint, OTEL_NODE_DISABLED_INSTRUMENTATIONS: 'pg, http' }).disabledInstrumentations).toEqual(['pg', 'http']);
  });

  it('names every unusable variable', () => {
    let error: unknown;
    try {
      read({ OTEL_EXPORTER_OTLP_ENDPOINT: 'jaeger:4318', OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc', OTEL_TRACES_SAMPLER_ARG: '2' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    for (const name of ['OTEL_EXPORTER_OTLP_ENDPOINT must be a http: or https: URL', 'OTEL_EXPORTER_OTLP_PROTOCOL must be one of', 'OTEL_TRACES_SAMPLER_ARG must be a number from 0 to 1']) {
      expect((error as Error).message).toContain(name);
    }
  });
});
