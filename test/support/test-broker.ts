import amqp from 'amqplib';
import { deleteTaskTopology, taskTopology, type TaskTopology } from '@taskproc/core';
import { uniqueSuffix } from './test-env.js';

/** A queue namespace of the test's own, so parallel test files never share a queue. */
export function testNamespace(label: string): string {
  return `taskproc-test.${label}.${uniqueSuffix()}`;
}

/** Removes every queue and exchange of a test namespace. */
export async function deleteNamespace(amqpUrl: string, topology: TaskTopology): Promise<void> {
  const connection = await amqp.connect(amqpUrl);
  try {
    const channel = await connection.createChannel();
    await deleteTaskTopology(channel, topology);
    await channel.close();
  } finally {
    await connection.close();
  }
}

export { taskTopology };
