import { readFile } from 'node:fs/promises';
import { text } from 'node:stream/consumers';
import type { Task } from '@taskproc/contract';
import type { TaskClient } from '../client.js';
import { ResourceExhaustedError, TaskClientError } from '../errors.js';
import { createTaskClient } from '../node.js';
import { toTaskJson, type TaskJson } from '../task-json.js';
import { WaitTimeoutError } from '../wait-for-status.js';
import { list, watch } from './list-and-watch.js';
import { USAGE, UsageError, parseCliArguments, type CliArguments } from './arguments.js';
import { SigningKeyError, manageKeys, printToken } from './dev-keys.js';
import { ExitCode, exitCodeFor } from './exit-codes.js';
import { describeStats, toStatsJson } from './stats-output.js';

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
  if (args.command === 'token' || args.command === 'keys') {
    try {
      await (args.command === 'token' ? printToken(args, io) : manageKeys(args, io));
      return ExitCode.OK;
    } catch (error) {
      return report(error, args, io);
    }
  }

  const client = createTaskClient({ baseUrl: args.url, transport: args.transport, defaultTimeoutMs: args.deadlineMs, token: args.token });
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
      if (args.file !== undefined) {
        // One task per non-empty line, 1,000 per call, each line its own key.
        const source = args.file === '-' ? await text(io.stdin) : await readFile(args.file, 'utf8');
        const lines = source.split(/\r?\n/).filter((line) => line !== '');
        if (lines.length === 0) throw new UsageError(`${args.file === '-' ? 'stdin' : args.file} holds no content (one per line)`);
        const tasks = await client.createTasks(lines.map((content) => ({ content, scheduleTime: args.scheduleTime })));
        for (const task of tasks) io.stdout.write(args.json ? `${JSON.stringify(toTaskJson(task))}\n` : `${task.id}\n`);
        return;
      }
      const content = args.operand === '-' ? await text(io.stdin) : args.operand!;
      print(await client.create(content, { requestId: args.requestId, scheduleTime: args.scheduleTime }));
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
      await watch(client, args, io);
      return;
    case 'list':
      await list(client, args, io);
      return;
    case 'health': {
      const { status } = await client.checkHealth({});
      io.stdout.write(args.json ? `${JSON.stringify({ status })}\n` : `${status}\n`);
      return;
    }
    case 'stats': {
      const stats = toStatsJson(await client.getTaskStats({}));
      io.stdout.write(args.json ? `${JSON.stringify(stats)}\n` : describeStats(stats));
      return;
    }
    case 'token':
    case 'keys':
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
    ...(task.schedule_time ? [`schedule_time: ${task.schedule_time}`] : []),
    ...(task.error !== undefined ? [`error:       ${task.error}`] : []),
    '',
  ].join('\n');
}

/** What to do after UNAUTHENTICATED: send a token, or a fresh one. */
function tokenHint(args: CliArguments): string {
  const local = 'for a task-api started by `make start AUTH_MODE=jwt`: export TASKCTL_TOKEN=$(npx taskctl token --tenant <name>)';
  return args.token === undefined
    ? `taskctl: no token was sent: set TASKCTL_TOKEN or --token (${local})\n`
    : `taskctl: the token sent was refused: get a new one (${local})\n`;
}

function report(error: unknown, args: CliArguments, io: CliIo): number {
  if (io.signal?.aborted) {
    io.stderr.write('taskctl: interrupted\n');
    return ExitCode.INTERRUPTED;
  }
  if (error instanceof UsageError) {
    io.stderr.write(`taskctl: ${error.message}\n`);
    return ExitCode.USAGE;
  }
  if (error instanceof WaitTimeoutError) {
    io.stderr.write(`taskctl: ${error.message}\n`);
    return ExitCode.TIMEOUT;
  }
  if (error instanceof SigningKeyError) {
    io.stderr.write(`taskctl: ${error.message}\n`);
    return ExitCode.ERROR;
  }
  if (error instanceof TaskClientError) {
    const exitCode = exitCodeFor(error.code);
    const where = exitCode === ExitCode.UNAVAILABLE ? `task-api at ${args.url} (${args.transport}) is unavailable: ` : '';
    io.stderr.write(`taskctl: ${where}${error.message} [${error.codeName}]\n`);
    if (exitCode === ExitCode.UNAUTHENTICATED) io.stderr.write(tokenHint(args));
    if (error instanceof ResourceExhaustedError && error.retryAfterSeconds !== undefined) {
      io.stderr.write(`taskctl: too many requests: retry after ${error.retryAfterSeconds} s\n`);
    }
    return exitCode;
  }
  io.stderr.write(`taskctl: unexpected error: ${error instanceof Error ? error.message : String(error)}\n`);
  return ExitCode.ERROR;
}
