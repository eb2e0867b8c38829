import amqp, { type ChannelModel, type ConfirmChannel, type GetMessage, type Options } from 'amqplib';
import { assertTaskTopology, encodeTaskMessage, openOrm, TaskStore, type Task, type TaskStatusName } from '@taskproc/core';
import type { MikroORM } from '@mikro-orm/postgresql';
import { createClient, type Client } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { TaskService } from '@taskproc/contract';
import { readTaskApiConfig, startTaskApi } from '@taskproc/task-api';
import { readProcessorConfig, type ProcessorConfig } from '../../src/config.js';
import { createTestDatabase, type TestDatabase } from '../../../../test/support/test-database.js';
import { deleteNamespace, taskTopology, testNamespace } from '../../../../test/support/test-broker.js';
import { loadTestEnv } from '../../../../test/support/test-env.js';

/**
 * One test file's world: its own database and queue namespace, a processor
 * config pointing at them, and the producer side (a task row plus its
 * message, as task-api's outbox relay publishes it).
 */
export interface Harness {
  env: Record<string, string>;
  config: Readonly<ProcessorConfig>;
  db: TestDatabase;
  store: TaskStore;
  topology: ReturnType<typeof taskTopology>;
  /** The environment a processor process of this world runs with. */
  processEnv(overrides?: Record<string, string>): Record<string, string>;
  /** A processor config for this world with some settings changed. */
  configWith(overrides: Record<string, string>): Readonly<ProcessorConfig>;
  /** Inserts a pending task and publishes its message. */
  createTask(content?: string): Promise<Task>;
  /**
   * Starts a real task-api on this world's database and namespace, and
   * returns a gRPC client of it (the way a client creates and cancels tasks).
   */
  startApi(): Promise<{ client: Client<typeof TaskService>; close(): Promise<void> }>;
  /** Publishes a raw message to the task queue and waits for the broker's confirm. */
  publish(body: Buffer, options?: Options.Publish): Promise<void>;
  statusOf(taskId: string): Promise<TaskStatusName | undefined>;
  /** Tasks per status, from the database. */
  countByStatus(): Promise<Partial<Record<TaskStatusName, number>>>;
  /** The transitions the trigger logged for a task, oldest first. */
  transitions(taskId: string): Promise<{ from_status: string | null; to_status: string; attempt: number }[]>;
  /** Takes every message out of the dead-letter queue (rejects while the queue does not exist). */
  drainDeadLetters(): Promise<GetMessage[]>;
  /** Deletes a queue of this world, as an operator's mistake would. */
  deleteQueue(name: string): Promise<void>;
  /** Messages ready in the task queue (not counting unacknowledged ones). */
  readyMessages(): Promise<number>;
  close(): Promise<void>;
}

export async function createHarness(label: string, overrides: Record<string, string> = {}): Promise<Harness> {
  const env = loadTestEnv(overrides);
  const db = await createTestDatabase(env.DATABASE_URL!, label);
  const namespace = testNamespace(label);
  const configWith = (more: Record<string, string>) => readProcessorConfig({ ...env, DATABASE_URL: db.url, QUEUE_NAMESPACE: namespace, ...more });
  const config = configWith({});
  const topology = taskTopology(namespace, config.queueDeliveryLimit);
  const orm: MikroORM = await openOrm({ databaseUrl: db.url, poolSize: 2 });
  const store = new TaskStore(orm);
  const connection: ChannelModel = await amqp.connect(env.AMQP_URL!);
  const channel: ConfirmChannel = await connection.createConfirmChannel();
  await assertTaskTopology(channel, topology);

  const publish = async (body: Buffer, options: Options.Publish = {}) => {
    channel.sendToQueue(topology.taskQueue, body, { persistent: true, contentType: 'application/json', ...options });
    await channel.waitForConfirms();
  };

  return {
    env,
    config,
    db,
    store,
    topology,
    configWith,
    processEnv: (more = {}) => ({ ...env, DATABASE_URL: db.url, QUEUE_NAMESPACE: namespace, ...more }),
    async createTask(content = 'resize image 42') {
      const task = await store.createWithOutboxEntry(content);
      await publish(encodeTaskMessage(task.id), { messageId: task.id });
      return task;
    },
    publish,
    async startApi() {
      const api = await startTaskApi(readTaskApiConfig({ ...env, DATABASE_URL: db.url, QUEUE_NAMESPACE: namespace }));
      return { client: createClient(TaskService, createGrpcTransport({ baseUrl: api.url })), close: () => api.close() };
    },
    async statusOf(taskId) {
      const rows = await db.query<{ status: TaskStatusName }>('select status from task where id = $1', [taskId]);
      return rows[0]?.status;
    },
    async countByStatus() {
      const rows = await db.query<{ status: TaskStatusName; n: number }>('select status, count(*)::int as n from task group by status');
      return Object.fromEntries(rows.map((r) => [r.status, r.n]));
    },
    async transitions(taskId) {
      return db.query('select from_status, to_status, attempt from task_transition where task_id = $1 order by id', [taskId]);
    },
    async drainDeadLetters() {
      // A connection of its own: the broker closes the channel that reads a
      // missing queue, and the whole connection (541 INTERNAL_ERROR, "noproc")
      // that reads a quorum queue declared again whose process has not
      // started yet. Either is "not yet" to the caller's waitFor, and must not
      // take the harness's own connection down with it.
      const readerConnection = await amqp.connect(env.AMQP_URL!);
      readerConnection.on('error', () => undefined);
      const messages: GetMessage[] = [];
      try {
        const reader = await readerConnection.createChannel();
        reader.on('error', () => undefined);
        for (;;) {
          const message = await reader.get(topology.deadLetterQueue, { noAck: true });
          if (!message) return messages;
          messages.push(message);
        }
      } finally {
        await readerConnection.close().catch(() => undefined);
      }
    },
    async deleteQueue(name) {
      await channel.deleteQueue(name);
    },
    async readyMessages() {
      return (await channel.checkQueue(topology.taskQueue)).messageCount;
    },
    async close() {
      await channel.close().catch(() => undefined);
      await connection.close().catch(() => undefined);
      await deleteNamespace(env.AMQP_URL!, topology);
      await orm.close();
      await db.drop();
    },
  };
}
