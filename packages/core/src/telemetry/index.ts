export * from './metrics-server.js';
export * from './telemetry-config.js';
export * from './trace-context.js';
export * from './tracing.js';
export * from './task-metrics.js';
