import { runService } from '@taskproc/core';
import { startTaskApi } from './app.js';
import { readTaskApiConfig } from './config.js';

// The task-api's process entry. A graceful stop drains in-flight requests,
// then stops the outbox relay and closes the database.
await runService({ name: 'task-api', readConfig: () => readTaskApiConfig(process.env), start: startTaskApi });
