import { parseArgs } from 'node:util';
import type { TaskStatus } from '@taskproc/contract';
import { isTransportName, type TransportName } from '../client.js';
import { parseStatus } from '../task-json.js';

export const DEFAULT_URL = 'http://127.0.0.1:50051';

export const USAGE = `Usage: taskctl [options] <command>

Commands:
  create <content>   create a task ("-" reads the content from stdin)
  create --file <f>  create one task per line of file f ("-" for stdin), 1,000 per call
  get <id>           show a task
  cancel <id>        cancel a pending or processing task
  retry <id>         queue a failed task again (its attempts start over)
  watch <id>         stream each change of status until the task is completed, canceled or failed
  list               list tasks, newest first (every page, or --limit of them)
  health             check that task-api can reach its database
  stats              counts by status, outbox backlog, dead letters, processors

Options:
  --url <url>              task-api address (default $TASKCTL_URL or ${DEFAULT_URL})
  --transport <name>       grpc, connect or grpc-web (default $TASKCTL_TRANSPORT or connect)
  --json                   print JSON (one task per line, REST contract shape)
  --timeout <ms>           watch: give up after this long (default 300000)
  --interval <ms>          watch: time between reads when the service cannot stream (default 250)
  --status <name>          list: only tasks of this status (pending, processing, ...)
  --page-size <n>          list: tasks per request, 1 to 1000 (default 50)
  --limit <n>              list: stop after this many tasks (default: all)
  --deadline <ms>          deadline of each call (default 10000)
  --request-id <id>        create: idempotency key (default a fresh one; retries reuse it)
  --at <time>              create: run not before this RFC 3339 time, e.g. 2030-01-01T09:00:00Z
  -h, --help               show this help

Exit codes:
  0 success          1 unexpected error      2 usage error
  3 task not found   4 invalid argument      5 not allowed in the task's status
                                             (cancel of a final task, retry of one not failed)
  6 task-api unavailable or unreachable      7 watch timed out    130 interrupted
  8 request id already used with other content
`;

export class UsageError extends Error {
  override name = 'UsageError';
}

export type Command = 'create' | 'get' | 'cancel' | 'retry' | 'watch' | 'list' | 'health' | 'stats' | 'help';

export interface CliArguments {
  command: Command;
  /** The content (create) or task id (get, cancel, watch). */
  operand: string | undefined;
  url: string;
  transport: TransportName;
  json: boolean;
  timeoutMs: number;
  intervalMs: number;
  deadlineMs: number;
  /** create --file: the file (or "-" for stdin) with one content per line. */
  file: string | undefined;
  /** create --request-id. */
  requestId: string | undefined;
  /** create --at. */
  scheduleTime: Date | undefined;
  /** list: the status filter (undefined: all). */
  status: TaskStatus | undefined;
  pageSize: number;
  /** list: at most this many tasks (undefined: all). */
  limit: number | undefined;
}

const COMMANDS: Record<Command, 'none' | 'content' | 'id'> = {
  create: 'content',
  get: 'id',
  cancel: 'id',
  retry: 'id',
  watch: 'id',
  list: 'none',
  health: 'none',
  stats: 'none',
  help: 'none',
};

/** Parses argv (without node and the script); throws UsageError with a message fit for the user. */
export function parseCliArguments(argv: string[], env: Record<string, string | undefined>): CliArguments {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        url: { type: 'string' },
        transport: { type: 'string' },
        json: { type: 'boolean', default: false },
        timeout: { type: 'string' },
        interval: { type: 'string' },
        deadline: { type: 'string' },
        file: { type: 'string' },
        'request-id': { type: 'string' },
        at: { type: 'string' },
        status: { type: 'string' },
        'page-size': { type: 'string' },
        limit: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  const [name, operand, ...extra] = positionals;
  const command = values.help || name === undefined ? 'help' : name;
  if (!(command in COMMANDS)) throw new UsageError(`unknown command "${command}"`);
  const fromFile = command === 'create' && values.file !== undefined;
  const wants = fromFile ? 'none' : COMMANDS[command as Command];
  if (command !== 'create' && (values.file ?? values['request-id'] ?? values.at) !== undefined) {
    throw new UsageError('--file, --request-id and --at are options of create');
  }
  if (fromFile && values['request-id'] !== undefined) throw new UsageError('--request-id names one create; --file makes one key per line');
  if (wants !== 'none' && operand === undefined) throw new UsageError(`${command} needs a ${wants === 'id' ? 'task id' : 'content'}`);
  if (extra.length > 0 || (wants === 'none' && operand !== undefined && command !== 'help')) {
    throw new UsageError(`unexpected argument "${extra[0] ?? operand}"${wants === 'content' ? ' (quote content that has spaces)' : ''}`);
  }

  const transport = values.transport ?? env.TASKCTL_TRANSPORT ?? 'connect';
  if (!isTransportName(transport)) throw new UsageError(`--transport must be grpc, connect or grpc-web, not "${transport}"`);
  const url = values.url ?? env.TASKCTL_URL ?? DEFAULT_URL;
  if (!/^https?:\/\/[^/]/.test(url)) throw new UsageError(`--url must be an http:// or https:// URL, not "${url}"`);

  return {
    command: command as Command,
    operand,
    url,
    transport,
    json: values.json,
    timeoutMs: milliseconds('--timeout', values.timeout, 300_000),
    intervalMs: milliseconds('--interval', values.interval, 250),
    deadlineMs: milliseconds('--deadline', values.deadline, 10_000),
    file: values.file,
    requestId: values['request-id'],
    scheduleTime: values.at === undefined ? undefined : rfc3339('--at', values.at),
    status: listStatus(values.status),
    pageSize: count('--page-size', values['page-size'], 50, 1_000),
    limit: values.limit === undefined ? undefined : count('--limit', values.limit, 0, Number.MAX_SAFE_INTEGER),
  };
}

function rfc3339(option: string, value: string): Date {
  const time = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i.test(value) ? new Date(value) : undefined;
  if (!time || Number.isNaN(time.getTime())) throw new UsageError(`${option} must be an RFC 3339 time such as 2030-01-01T09:00:00Z, not "${value}"`);
  return time;
}

function listStatus(value: string | undefined): TaskStatus | undefined {
  if (value === undefined) return undefined;
  const status = /^[a-z]+$/.test(value) ? parseStatus(value) : undefined;
  if (status === undefined) throw new UsageError(`--status must be pending, processing, completed, canceled or failed, not "${value}"`);
  return status;
}

function count(option: string, value: string | undefined, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > max) {
    throw new UsageError(`${option} must be a whole number from 1${max < Number.MAX_SAFE_INTEGER ? ` to ${max}` : ''}, not "${value}"`);
  }
  return Number(value);
}

function milliseconds(option: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new UsageError(`${option} must be a whole number of milliseconds, not "${value}"`);
  return Number(value);
}
