import type { Scenario } from '../lib/scenario.js';
import { baseline } from './01-baseline.js';
import { processorKill9 } from './02-processor-kill9.js';
import { taskApiCrashBeforePublish } from './03-task-api-crash-before-publish.js';
import { rabbitmqRestart } from './04-rabbitmq-restart.js';
import { postgresRestart } from './05-postgres-restart.js';
import { duplicateDelivery } from './06-duplicate-delivery.js';
import { poisonMessages } from './07-poison-messages.js';
import { cancelRacesCompletion } from './08-cancel-races-completion.js';
import { processorSigterm } from './09-processor-sigterm.js';
import { badInput } from './10-bad-input.js';
import { postgresBlackhole } from './11-postgres-blackhole.js';
import { rabbitmqBlackhole } from './12-rabbitmq-blackhole.js';
import { taskQueueDeleted } from './13-task-queue-deleted.js';
import { mismatchedQueueSettings } from './14-mismatched-queue-settings.js';
import { cancelUppercaseIds } from './15-cancel-uppercase-ids.js';
import { crashLoop } from './16-crash-loop.js';
import { authOn } from './17-auth-on.js';

/** Every scenario, in the order the suite runs them (serially). */
export const scenarios: Scenario[] = [
  baseline,
  processorKill9,
  taskApiCrashBeforePublish,
  rabbitmqRestart,
  postgresRestart,
  duplicateDelivery,
  poisonMessages,
  cancelRacesCompletion,
  processorSigterm,
  badInput,
  postgresBlackhole,
  rabbitmqBlackhole,
  taskQueueDeleted,
  mismatchedQueueSettings,
  cancelUppercaseIds,
  crashLoop,
  authOn,
];
