import { Code } from '@connectrpc/connect';
import type { Task } from '@taskproc/contract';
import type { TaskClient } from '../client.js';
import { TaskClientError } from '../errors.js';
import { listAllTasks } from '../list-tasks.js';
import { FINAL_STATUSES, toTaskJson, type TaskJson } from '../task-json.js';
import { WaitTimeoutError, waitForStatus } from '../wait-for-status.js';
import { watchTask } from '../watch-task.js';
import type { CliArguments } from './arguments.js';
import type { CliIo } from './taskctl.js';

/**
 * taskctl watch: streams each change as it commits (WatchTask); against a
 * service without WatchTask it polls, as before. Ends after a final status,
 * or with WaitTimeoutError after --timeout.
 */
export async function watch(client: TaskClient, args: CliArguments, io: CliIo): Promise<void> {
  const line = (task: Task) => {
    const json = toTaskJson(task);
    io.stdout.write(args.json ? `${JSON.stringify(json)}\n` : `${json.updated_at ?? json.created_at}  ${json.status}\n`);
  };
  let last: Task | undefined;
  try {
    for await (const task of watchTask(client, args.operand!, { signal: io.signal, timeoutMs: args.timeoutMs })) {
      line(task);
      last = task;
    }
  } catch (error) {
    if (io.signal?.aborted) throw error;
    if (error instanceof TaskClientError && error.code === Code.DeadlineExceeded) {
      throw new WaitTimeoutError(args.operand!, FINAL_STATUSES, last, args.timeoutMs);
    }
    if (!(error instanceof TaskClientError && error.code === Code.Unimplemented)) throw error;
    await waitForStatus({ getTask: (...a) => client.getTask(...a) }, args.operand!, FINAL_STATUSES, {
      timeoutMs: args.timeoutMs,
      intervalMs: args.intervalMs,
      signal: io.signal,
      onStatus: line,
    });
  }
}

/** taskctl list: every task (or --limit of them), newest first, as a table or one JSON task per line. */
export async function list(client: TaskClient, args: CliArguments, io: CliIo): Promise<void> {
  const tasks: TaskJson[] = [];
  const pages = listAllTasks(client, { status: args.status, pageSize: args.pageSize, signal: io.signal });
  for await (const task of pages) {
    if (args.limit !== undefined && tasks.length >= args.limit) break;
    const json = toTaskJson(task);
    // JSON lines stream out as pages arrive; the table needs every row for its widths.
    if (args.json) io.stdout.write(`${JSON.stringify(json)}\n`);
    else tasks.push(json);
  }
  if (!args.json) io.stdout.write(table(tasks));
}

const CONTENT_WIDTH = 40;

function table(tasks: TaskJson[]): string {
  if (tasks.length === 0) return 'no tasks\n';
  const rows = tasks.map((task) => [task.id, task.status, task.created_at ?? '-', task.updated_at ?? '-', preview(task.content)]);
  const header = ['ID', 'STATUS', 'CREATED', 'UPDATED', 'CONTENT'];
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  const format = (cells: string[]) => cells.map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column]!))).join('  ');
  return `${[header, ...rows].map(format).join('\n')}\n`;
}

/** One line of at most CONTENT_WIDTH characters: control characters shown as spaces. */
function preview(content: string): string {
  const flat = content.replace(/[\u0000-\u001f\u007f]+/g, ' ');
  return flat.length <= CONTENT_WIDTH ? flat : `${flat.slice(0, CONTENT_WIDTH - 1)}…`;
}
