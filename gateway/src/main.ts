import { runService } from '@taskproc/core';
import { readGatewayConfig } from './config.js';
import { startGateway } from './index.js';

// The embedded gateway's process entry. A graceful stop finishes in-flight
// requests and closes the upstream connection.
await runService({
  name: 'gateway',
  readConfig: () => readGatewayConfig(process.env),
  start: (config, logger) => startGateway(config, { logger }),
});
