import { EnvReader, readSharedConfig, readTracingConfig, type Env, type MetricsConfig, type SharedConfig, type TracingConfig } from '@taskproc/core';

export interface TaskApiConfig extends SharedConfig {
  host: string;
  /** 0 picks a free port (tests). */
  port: number;
  /** Safety-net poll of the outbox; new tasks wake the relay at once. */
  outboxPollIntervalMs: number;
  outboxBatchSize: number;
  /** How long a create's request_id stays bound to its task (24 h; tests shorten it). */
  idempotencyKeyLifetimeMs: number;
  /** How often expired idempotency keys are deleted (they are free at once regardless). */
  idempotencyCleanupIntervalMs: number;
  /**
   * Longest a unary request is served before it is answered UNAVAILABLE
   * (a client's shorter deadline wins). Below the gateway's 15 s upstream
   * timeout, so an outage reaches REST clients as 503, not 504.
   */
  requestTimeoutMs: number;
  /** Creates waiting for a group commit; past it a create is refused RESOURCE_EXHAUSTED. */
  createQueueLimit: number;
  /**
   * A connection that has not sent a whole first request (HTTP/1.1 headers,
   * or the HTTP/2 preface and SETTINGS) within this is closed.
   */
  connectionHandshakeTimeoutMs: number;
  /** Time in-flight requests get on SIGTERM before connections are cut. */
  shutdownGraceMs: number;
  /**
   * Fault injection for the reliability suite only: exit the process right
   * after a create commits, before the relay can publish it. Never set in
   * deployment.
   */
  faultExitAfterCommit: boolean;
  /** Listing and watching (docs/watching.md). */
  watching: WatchingConfig;
  /** Who may call: bearer JWTs and the tenant they name, or no authentication. */
  auth: AuthConfig;
  /** Each tenant's share of this process: a request budget and a cap on watch streams. */
  limits: LimitsConfig;
  /** Prometheus metrics (TASK_API_METRICS_HOST, TASK_API_METRICS_PORT; default 127.0.0.1:9461). */
  metrics: MetricsConfig;
  /** OpenTelemetry traces over OTLP, on when OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT is set. */
  tracing: TracingConfig;
}

export interface WatchingConfig {
  /**
   * Key of the HMAC that authenticates ListTasks page tokens. Every task-api
   * of a deployment needs the same one; null means a random key per process
   * (tokens then fail after a restart or on another replica).
   */
  pageTokenSecret: string | null;
  /** Watch streams (WatchTask and WatchTasks) one process serves at once; past it RESOURCE_EXHAUSTED. */
  maxStreams: number;
  /** Changes a stream may hold unread; past it the watcher is cut off with UNAVAILABLE. */
  streamBufferMessages: number;
  /** A stream with nothing to say for this long gets a keep-alive message. */
  keepAliveMs: number;
}

/**
 * AUTH_MODE=none: every caller is the default tenant (local development).
 * AUTH_MODE=jwt: every TaskService RPC but CheckHealth needs
 * `authorization: Bearer <JWT>`, verified against the JWKS.
 */
export type AuthConfig = { mode: 'none' } | JwtAuthConfig;

export interface JwtAuthConfig {
  mode: 'jwt';
  /** Where the public keys come from: a file re-read when it changes, or an identity provider's URL. */
  jwks: { kind: 'file'; path: string } | { kind: 'url'; url: string };
  /** The `iss` a token must carry. */
  issuer: string;
  /** The audience a token's `aud` must name. */
  audience: string;
  /** The claim naming the caller's tenant. */
  tenantClaim: string;
  /** Slack allowed on `exp` and `nbf` for clocks that disagree. */
  clockSkewSeconds: number;
  /** How often the JWKS is checked for new keys (a token naming an unknown key checks at once). */
  jwksRefreshMs: number;
  /** Longest a fetch of AUTH_JWKS_URL may take. */
  jwksTimeoutMs: number;
  /** Verified tokens remembered so a repeated one skips its signature check; 0 turns the cache off. */
  tokenCacheSize: number;
}

/** Applied with AUTH_MODE=jwt only: without authentication there is one tenant, held by the process-wide bounds. */
export interface LimitsConfig {
  /** Requests a tenant may make per second, on average; 0 means no budget. */
  ratePerSecond: number;
  /** Requests a tenant may make at once after being idle (the bucket's size). */
  burst: number;
  /** Watch streams (WatchTask, WatchTasks) one tenant may hold open; 0 means no cap per tenant. */
  maxWatchStreams: number;
}

/** Reads and validates the task-api's settings once, at start. */
export function readTaskApiConfig(env: Env = process.env): Readonly<TaskApiConfig> {
  const reader = new EnvReader(env);
  return reader.done({
    ...readSharedConfig(reader),
    host: reader.string('TASK_API_HOST', '127.0.0.1'),
    port: reader.integer('TASK_API_PORT', 50051, { min: 0, max: 65535 }),
    outboxPollIntervalMs: reader.integer('OUTBOX_POLL_INTERVAL_MS', 1000, { min: 10, max: 60_000 }),
    outboxBatchSize: reader.integer('OUTBOX_BATCH_SIZE', 200, { min: 1, max: 10_000 }),
    idempotencyKeyLifetimeMs: reader.integer('IDEMPOTENCY_KEY_LIFETIME_MS', 86_400_000, { min: 1_000, max: 604_800_000 }),
    idempotencyCleanupIntervalMs: reader.integer('IDEMPOTENCY_CLEANUP_INTERVAL_MS', 60_000, { min: 100, max: 3_600_000 }),
    requestTimeoutMs: reader.integer('TASK_API_REQUEST_TIMEOUT_MS', 10_000, { min: 100, max: 600_000 }),
    createQueueLimit: reader.integer('TASK_API_CREATE_QUEUE_LIMIT', 10_000, { min: 1, max: 1_000_000 }),
    connectionHandshakeTimeoutMs: reader.integer('TASK_API_HANDSHAKE_TIMEOUT_MS', 10_000, { min: 100, max: 600_000 }),
    shutdownGraceMs: reader.integer('TASK_API_SHUTDOWN_GRACE_MS', 10_000, { min: 0, max: 300_000 }),
    faultExitAfterCommit: reader.boolean('TASK_API_FAULT_EXIT_AFTER_COMMIT', false),
    watching: readWatchingConfig(reader),
    auth: readAuthConfig(reader),
    limits: readLimitsConfig(reader),
    metrics: { host: reader.string('TASK_API_METRICS_HOST', '127.0.0.1'), port: reader.integer('TASK_API_METRICS_PORT', 9461, { min: 0, max: 65535 }) },
    tracing: readTracingConfig(reader, 'taskproc-task-api'),
  });
}

function readWatchingConfig(reader: EnvReader): WatchingConfig {
  const secret = reader.string('PAGE_TOKEN_SECRET', '');
  if (secret !== '' && secret.length < 32) reader.problem('PAGE_TOKEN_SECRET must be at least 32 characters');
  return {
    pageTokenSecret: secret === '' ? null : secret,
    maxStreams: reader.integer('WATCH_MAX_STREAMS', 10_000, { min: 1, max: 1_000_000 }),
    streamBufferMessages: reader.integer('WATCH_STREAM_BUFFER_MESSAGES', 256, { min: 1, max: 100_000 }),
    keepAliveMs: reader.integer('WATCH_KEEPALIVE_MS', 15_000, { min: 100, max: 120_000 }),
  };
}

function readAuthConfig(reader: EnvReader): AuthConfig {
  const mode = reader.oneOf('AUTH_MODE', ['none', 'jwt'] as const, 'none');
  // Read in either mode, so a typo in a setting fails the start even while authentication is off.
  const file = reader.string('AUTH_JWKS_FILE', '');
  const url = reader.url('AUTH_JWKS_URL', ['https:', 'http:'], '');
  const issuer = reader.string('AUTH_ISSUER', '');
  const audience = reader.string('AUTH_AUDIENCE', '');
  const tenantClaim = reader.string('AUTH_TENANT_CLAIM', 'tenant');
  const clockSkewSeconds = reader.integer('AUTH_CLOCK_SKEW_S', 30, { min: 0, max: 300 });
  const jwksRefreshMs = reader.integer('AUTH_JWKS_REFRESH_MS', 60_000, { min: 100, max: 86_400_000 });
  const jwksTimeoutMs = reader.integer('AUTH_JWKS_TIMEOUT_MS', 5_000, { min: 100, max: 60_000 });
  const tokenCacheSize = reader.integer('AUTH_TOKEN_CACHE_SIZE', 10_000, { min: 0, max: 100_000 });
  if (mode === 'none') return { mode };
  if ((file === '') === (url === '')) reader.problem('AUTH_MODE=jwt needs exactly one of AUTH_JWKS_FILE and AUTH_JWKS_URL');
  if (issuer === '') reader.problem('AUTH_ISSUER is required when AUTH_MODE=jwt');
  if (audience === '') reader.problem('AUTH_AUDIENCE is required when AUTH_MODE=jwt');
  return {
    mode,
    jwks: file !== '' ? { kind: 'file', path: file } : { kind: 'url', url },
    issuer,
    audience,
    tenantClaim,
    clockSkewSeconds,
    jwksRefreshMs,
    jwksTimeoutMs,
    tokenCacheSize,
  };
}

function readLimitsConfig(reader: EnvReader): LimitsConfig {
  return {
    ratePerSecond: reader.integer('TENANT_RATE_LIMIT_PER_S', 1_000, { min: 0, max: 1_000_000 }),
    burst: reader.integer('TENANT_RATE_LIMIT_BURST', 2_000, { min: 1, max: 10_000_000 }),
    maxWatchStreams: reader.integer('TENANT_MAX_WATCH_STREAMS', 100, { min: 0, max: 1_000_000 }),
  };
}
