import { ConfigError } from '../config/env.js';
import type { LogLevel } from '../config/shared.js';
import { createLogger, type Logger } from '../logging.js';

export interface RunningService {
  /** Ordered, graceful shutdown. */
  close(): Promise<void>;
}

export interface ServiceDefinition<C extends { logLevel: LogLevel }> {
  name: string;
  readConfig(): C;
  start(config: C, logger: Logger): Promise<RunningService>;
}

/**
 * The process entry shared by every service:
 * - a configuration error exits with 78 (EX_CONFIG) and a message naming the
 *   variable, before any logger exists (its level is configuration too); so
 *   does one that start() finds (a module a setting names cannot be loaded);
 * - SIGTERM or SIGINT starts a graceful close and exits 0 when it is done;
 * - a second signal exits at once with 1 (whatever is unacknowledged goes
 *   back to the broker or is retried by clients);
 * - a signal before the service has started exits 0: nothing is held yet.
 */
export async function runService<C extends { logLevel: LogLevel }>(definition: ServiceDefinition<C>): Promise<void> {
  let config: C;
  try {
    config = definition.readConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${definition.name}: ${error.message}\n`);
      process.exit(78);
    }
    throw error;
  }
  const logger = createLogger(definition.name, config.logLevel);

  let service: RunningService | null = null;
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals > 1) {
      logger.warn({ signal }, 'second signal: forced exit');
      process.exit(1);
    }
    if (!service) {
      logger.info({ signal }, 'stopping before the service started');
      process.exit(0);
    }
    logger.info({ signal }, 'graceful shutdown requested');
    service.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);

  try {
    service = await definition.start(config, logger);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${definition.name}: ${error.message}\n`);
      process.exit(78);
    }
    logger.fatal({ err: error }, `${definition.name} failed to start`);
    process.exit(1);
  }
}
