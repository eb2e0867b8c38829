import { runService } from '@taskproc/core';
import { readProcessorConfig } from './config.js';
import { startProcessor } from './processor.js';

// The processor's process entry. A graceful stop finishes or returns the
// tasks in hand; a forced exit leaves unacknowledged messages to the broker,
// which redelivers them.
await runService({ name: 'processor', readConfig: () => readProcessorConfig(process.env), start: startProcessor });
