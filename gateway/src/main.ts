import { createLogger } from '@taskproc/core';
import { readGatewayConfig } from './config.js';
import { startGateway, type RunningGateway } from './index.js';

// The embedded gateway's process entry. SIGTERM/SIGINT close it gracefully
// (stop accepting, finish in-flight requests, close the upstream
// connection); a second signal forces exit.

const config = readGatewayConfig(process.env);
const logger = createLogger('gateway', config.logLevel);

let gateway: RunningGateway | null = null;
let signals = 0;

function onSignal(signal: NodeJS.Signals): void {
  signals += 1;
  if (signals > 1 || !gateway) {
    logger.warn({ signal }, 'forced exit');
    process.exit(1);
  }
  logger.info({ signal }, 'graceful shutdown requested');
  gateway.close().then(
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
  gateway = await startGateway(config, { logger });
} catch (error) {
  logger.fatal({ err: error }, 'gateway failed to start');
  process.exit(1);
}
