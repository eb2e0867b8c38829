import { parseArgs } from 'node:util';
import { isTransportName, type TransportName } from '../client.js';

export const DEFAULT_URL = 'http://127.0.0.1:50051';

export const USAGE = `Usage: taskctl [options] <command>

Commands:
  create <content>   create a task ("-" reads the content from stdin)
  get <id>           show a task
  cancel <id>        cancel a pending or processing task
  retry <id>         queue a failed task again (its attempts start over)
  watch <id>         show each change of status until the task is completed or canceled
  health             check that task-api can reach its database

Options:
  --url <url>              task-api address (default $TASKCTL_URL or ${DEFAULT_URL})
  --transport <name>       grpc, connect or grpc-web (default $TASKCTL_TRANSPORT or connect)
  --json                   print JSON (one task per line, REST contract shape)
  --timeout <ms>           watch: give up after this long (default 300000)
  --interval <ms>          watch: time between reads (default 250)
  --deadline <ms>          deadline of each call (default 10000)
  -h, --help               show this help

Exit codes:
  0 success          1 unexpected error      2 usage error
  3 task not found   4 invalid argument      5 not allowed in the task's status
                                             (cancel of a final task, retry of one not failed)
  6 task-api unavailable or unreachable      7 watch timed out    130 interrupted
`;

export class UsageError extends Error {
  override name = 'UsageError';
}

export type Command = 'create' | 'get' | 'cancel' | 'retry' | 'watch' | 'health' | 'help';

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
}

const COMMANDS: Record<Command, 'none' | 'content' | 'id'> = {
  create: 'content',
  get: 'id',
  cancel: 'id',
  retry: 'id',
  watch: 'id',
  health: 'none',
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
  const wants = COMMANDS[command as Command];
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
  };
}

function milliseconds(option: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new UsageError(`${option} must be a whole number of milliseconds, not "${value}"`);
  return Number(value);
}
