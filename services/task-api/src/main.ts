import { ConfigError, createLogger } from '@taskproc/core';
import { startTaskApi } from './app.js';
import { readTaskApiConfig } from './config.js';

// Process entry point. SIGTERM/SIGINT start an orderly shutdown; a second
// signal exits at once.

let config;
try {
  config = readTaskApiConfig();
} catch (error) {
  if (error instanceof ConfigError) {
    process.stderr.write(`task-api: ${error.message}\n`);
    process.exit(78); // EX_CONFIG
  }
  throw error;
}

const logger = createLogger('task-api', config.logLevel);
const api = await startTaskApi(config, logger);

let signaled = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (signaled) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(130);
    }
    signaled = true;
    logger.info({ signal }, 'shutting down');
    api.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  });
}
