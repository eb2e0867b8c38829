import { Agent, request } from 'node:http';
import { createClient, type Client } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { TaskService } from '@taskproc/contract';

/** What the load driver needs from either protocol: create a task, cancel one. */
export interface TaskClient {
  /** Resolves with the new task's id; rejects on any non-success answer. */
  create(content: string): Promise<string>;
  cancel(taskId: string): Promise<void>;
  close(): void;
}

/**
 * A gRPC client built from the generated service descriptor (the
 * TaskService of packages/contract), over one HTTP/2 connection, as a
 * generated SDK's client would run.
 */
export function grpcClient(baseUrl: string): TaskClient {
  const transport = createGrpcTransport({ baseUrl, idleConnectionTimeoutMs: 60_000 });
  const client: Client<typeof TaskService> = createClient(TaskService, transport);
  return {
    async create(content) {
      const { task } = await client.createTask({ content }, { timeoutMs: 30_000 });
      return task!.id;
    },
    async cancel(taskId) {
      await client.cancelTask({ taskId }, { timeoutMs: 30_000 });
    },
    close() {},
  };
}

/** REST through the gateway, HTTP/1.1 with keep-alive: one socket per concurrent caller. */
export function restClient(baseUrl: string, sockets: number): TaskClient {
  const agent = new Agent({ keepAlive: true, maxSockets: sockets });
  const url = new URL(baseUrl);
  const send = (method: string, path: string, body: string | null, expected: number) =>
    new Promise<string>((resolve, reject) => {
      const req = request(
        { agent, host: url.hostname, port: url.port, method, path, headers: body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {} },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            if (res.statusCode === expected) resolve(text);
            else reject(new Error(`${method} ${path}: HTTP ${res.statusCode} ${text.slice(0, 200)}`));
          });
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(body ?? undefined);
    });
  return {
    async create(content) {
      return (JSON.parse(await send('POST', '/task', JSON.stringify({ content }), 201)) as { id: string }).id;
    },
    async cancel(taskId) {
      await send('PATCH', `/task/${taskId}/cancel`, null, 200);
    },
    close: () => agent.destroy(),
  };
}
