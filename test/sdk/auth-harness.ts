import { createTestKeys, type TestKeys } from '../../services/task-api/test/support/tokens.js';
import { startTaskApiHarness, type TaskApiHarness } from '../support/task-api-harness.js';

/** A task-api with authentication on (AUTH_MODE=jwt), trusting a development key of its own. */
export interface AuthTaskApi {
  harness: TaskApiHarness;
  keys: TestKeys;
  close(): Promise<void>;
}

export async function startAuthTaskApi(label: string): Promise<AuthTaskApi> {
  const keys = await createTestKeys(label);
  try {
    const harness = await startTaskApiHarness(label, (env) => ({ ...env, ...keys.env }));
    return {
      harness,
      keys,
      async close() {
        await harness.close();
        await keys.remove();
      },
    };
  } catch (error) {
    await keys.remove();
    throw error;
  }
}
