import { ConfigError, createLogger } from '@taskproc/core';
import { readProcessorConfig, type ProcessorConfig } from './config.js';
import { startProcessor, type Processor } from './processor.js';

// The processor's process entry. SIGTERM/SIGINT stop it gracefully (finish or
// return in-flight tasks, then close); a second signal forces exit, leaving
// unacknowledged messages to the broker, which redelivers them.

let config: Readonly<ProcessorConfig>;
try {
  config = readProcessorConfig(process.env);
} catch (error) {
  if (error instanceof ConfigError) {
    // No logger yet: its level is part of the configuration.
    process.stderr.write(`processor: ${error.message}\n`);
    process.exit(78); // EX_CONFIG
  }
  throw error;
}
const logger = createLogger('processor', config.logLevel);

let processor: Processor | null = null;
let signals = 0;

function onSignal(signal: NodeJS.Signals): void {
  signals += 1;
  if (signals > 1) {
    logger.warn({ signal }, 'forced exit');
    process.exit(1);
  }
  if (!processor) {
    // Still waiting for PostgreSQL or RabbitMQ: nothing is held that the
    // broker would not return by itself.
    logger.info({ signal }, 'stopping before the processor started');
    process.exit(0);
  }
  logger.info({ signal }, 'graceful shutdown requested');
  processor.close().then(
    () => process.exit(0),
    (error: unknown) => {
      logger.error({ err: error }, 'shutdown failed');
      process.exit(1);
    },
  );
}

process.on('SIGTERM', onSignal);
process.on('SIGINT', onSignal);

try {
  processor = await startProcessor(config, logger);
} catch (error) {
  logger.fatal({ err: error }, 'processor failed to start');
  process.exit(1);
}
