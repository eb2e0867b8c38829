import { text } from 'node:stream/consumers';
import type { Task } from '@taskproc/contract';
import type { TaskClient } from '../client.js';
import { TaskClientError } from '../errors.js';
import { createTaskClient } from '../node.js';
import { FINAL_STATUSES, toTaskJson, type TaskJson } from '../task-json.js';
import { WaitTimeoutError, waitForStatus } from '../wait-for-status.js';
import { USAGE, UsageError, parseCliArguments, type CliArguments } from './arguments.js';
import { ExitCode, exitCodeFor } from './exit-codes.js';

export interface CliIo {
  argv: string[];
  env: Record<string, string | undefined>;
  stdin: NodeJS.ReadableStream;
  stdout: { write(chunk: string): unknown };
  stderr: { write(chunk: string): unknown };
  /** Aborts a running watch (Ctrl-C). */
  signal?: AbortSignal;
}

/** Runs one taskctl command and returns its exit code (see exit-codes.ts). Never throws. */
export async function runTaskctl(io: CliIo): Promise<number> {
  let args: CliArguments;
  try {
    args = parseCliArguments(io.argv, io.env);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr.write(`taskctl: ${error.message}\nRun "taskctl --help" for usage.\n`);
    return ExitCode.USAGE;
  }
  if (args.command === 'help') {
    io.stdout.write(USAGE);
    return ExitCode.OK;
  }

  const client = createTaskClient({ baseUrl: args.url, transport: args.transport, defaultTimeoutMs: args.deadlineMs });
  try {
    await execute(client, args, io);
    return ExitCode.OK;
  } catch (error) {
    return report(error, args, io);
  } finally {
    client.close();
  }
}

async function execute(client: TaskClient, args: CliArguments, io: CliIo): Promise<void> {
  const print = (task: Task | undefined) => io.stdout.write(args.json ? `${JSON.stringify(toTaskJson(task!))}\n` : describe(toTaskJson(task!)));
  switch (args.command) {
    case 'create': {
      const content = args.operand === '-' ? await text(io.stdin) : args.operand!;
      print((await client.createTask({ content })).task);
      return;
    }
    case 'get':
      print((await client.getTask({ taskId: args.operand! })).task);
      return;
    case 'cancel':
      print((await client.cancelTask({ taskId: args.operand! })).task);
      return;
    case 'retry':
      print((await client.retryTask({ taskId: args.operand! })).task);
      return;
    case 'watch':
      await waitForStatus(client, args.operand!, FINAL_STATUSES, {
        timeoutMs: args.timeoutMs,
        intervalMs: args.intervalMs,
        signal: io.signal,
        onStatus: (task) => {
          const json = toTaskJson(task);
          io.stdout.write(args.json ? `${JSON.stringify(json)}\n` : `${json.updated_at ?? json.created_at}  ${json.status}\n`);
        },
      });
      return;
    case 'health': {
      const { status } = await client.checkHealth({});
      io.stdout.write(args.json ? `${JSON.stringify({ status })}\n` : `${status}\n`);
      return;
    }
    case 'help':
      return;
  }
}

function describe(task: TaskJson): string {
  return [
    `id:          ${task.id}`,
    `content:     ${task.content}`,
    `status:      ${task.status}`,
    `created_at:  ${task.created_at ?? '-'}`,
    `updated_at:  ${task.updated_at ?? '-'}`,
    ...(task.error !== undefined ? [`error:       ${task.error}`] : []),
    '',
  ].join('\n');
}

function report(error: unknown, args: CliArguments, io: CliIo): number {
  if (io.signal?.aborted) {
    io.stderr.write('taskctl: interrupted\n');
    return ExitCode.INTERRUPTED;
  }
  if (error instanceof WaitTimeoutError) {
    io.stderr.write(`taskctl: ${error.message}\n`);
    return ExitCode.TIMEOUT;
  }
  if (error instanceof TaskClientError) {
    const exitCode = exitCodeFor(error.code);
    const where = exitCode === ExitCode.UNAVAILABLE ? `task-api at ${args.url} (${args.transport}) is unavailable: ` : '';
    io.stderr.write(`taskctl: ${where}${error.message} [${error.codeName}]\n`);
    return exitCode;
  }
  io.stderr.write(`taskctl: unexpected error: ${error instanceof Error ? error.message : String(error)}\n`);
  return ExitCode.ERROR;
}
