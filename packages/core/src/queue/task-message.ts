import { isUuid } from '../ids.js';

// The body of a task message: only the id. The task row is the truth; the
// message only says "look at this task".
export interface TaskMessage {
  task_id: string;
}

export const TASK_MESSAGE_CONTENT_TYPE = 'application/json';

export function encodeTaskMessage(taskId: string): Buffer {
  return Buffer.from(JSON.stringify({ task_id: taskId } satisfies TaskMessage));
}

/**
 * The task id of a message body, or an error saying why the body is unusable.
 * The id comes back in canonical lower case (what PostgreSQL prints for a
 * uuid, and so what cancel notices carry), whatever case the producer used:
 * the processor keys its running work by it.
 */
export function decodeTaskMessage(body: Buffer): { taskId: string } | { error: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    return { error: 'body is not JSON' };
  }
  const taskId = (parsed as Partial<TaskMessage> | null)?.task_id;
  if (typeof taskId !== 'string' || !isUuid(taskId)) {
    return { error: 'body has no task_id UUID' };
  }
  return { taskId: taskId.toLowerCase() };
}
