import { parseArgs } from 'node:util';
import type { TaskStatus } from '@taskproc/contract';
import { isTransportName, type TransportName } from '../client.js';
import { DEV_AUTH, parseTtl } from '../dev-tokens.js';
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
  token --tenant <name>
                     print a development token for the tenant, signed with the local key
                     (for a task-api started by \`make start AUTH_MODE=jwt\`)
  keys init          make the local signing key and JWKS, unless they exist
  keys rotate        make a new signing key; the JWKS keeps the earlier public keys

Options:
  --url <url>              task-api address (default $TASKCTL_URL or ${DEFAULT_URL})
  --transport <name>       grpc, connect or grpc-web (default $TASKCTL_TRANSPORT or connect)
  --token <jwt>            sent as "authorization: Bearer <jwt>" (default $TASKCTL_TOKEN;
                           needed when task-api has authentication on)
  --json                   print JSON (one task per line, REST contract shape)
  --timeout <ms>           watch: give up after this long (default 300000)
  --interval <ms>          watch: time between reads when the service cannot stream (default 250)
  --status <name>          list: only tasks of this status (pending, processing, ...)
  --page-size <n>          list: tasks per request, 1 to 1000 (default 50)
  --limit <n>              list: stop after this many tasks (default: all)
  --deadline <ms>          deadline of each call (default 10000)
  --request-id <id>        create: idempotency key (default a fresh one; retries reuse it)
  --at <time>              create: run not before this RFC 3339 time, e.g. 2030-01-01T09:00:00Z
  --tenant <name>          token: the tenant the token is for
  --ttl <time>             token: lifetime, e.g. 90s, 30m, 1h, 7d (default 1h)
  --key-dir <dir>          token, keys: where the key pair is (default $TASKCTL_SIGNING_KEY_DIR
                           or ${DEV_AUTH.dir})
  -h, --help               show this help

Getting a token for a local task-api with authentication on:
  export TASKCTL_TOKEN=$(npx taskctl token --tenant acme)

Exit codes:
  0 success          1 unexpected error      2 usage error
  3 task not found   4 invalid argument      5 not allowed in the task's status
                                             (cancel of a final task, retry of one not failed)
  6 task-api unavailable or unreachable      7 watch timed out    130 interrupted
  8 request id already used with other content
  9 not authenticated: no token, or one task-api does not accept (expired, ...)
 10 too many requests: the tenant's budget is spent; retry after the time printed
`;

export class UsageError extends Error {
  override name = 'UsageError';
}

export type Command = 'create' | 'get' | 'cancel' | 'retry' | 'watch' | 'list' | 'health' | 'stats' | 'token' | 'keys' | 'help';

/** What task-api accepts as a tenant name (the token's tenant claim); checked here so a typo fails before a token is made. */
const TENANT_NAME = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$/;

export interface CliArguments {
  command: Command;
  /** The content (create), task id (get, cancel, watch) or action (keys). */
  operand: string | undefined;
  url: string;
  transport: TransportName;
  /** Sent as a bearer token with every call; undefined when neither --token nor TASKCTL_TOKEN is set. */
  token: string | undefined;
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
  /** token --tenant. */
  tenant: string | undefined;
  /** token --ttl, in seconds. */
  ttlSeconds: number;
  /** token, keys: the folder of the development key pair. */
  keyDir: string;
}

const COMMANDS: Record<Command, 'none' | 'content' | 'id' | 'action'> = {
  create: 'content',
  get: 'id',
  cancel: 'id',
  retry: 'id',
  watch: 'id',
  list: 'none',
  health: 'none',
  stats: 'none',
  token: 'none',
  keys: 'action',
  help: 'none',
};

const OPERAND_NAMES = { content: 'a content', id: 'a task id', action: 'an action (init or rotate)' } as const;

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
        token: { type: 'string' },
        tenant: { type: 'string' },
        ttl: { type: 'string' },
        'key-dir': { type: 'string' },
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
  if (command !== 'token' && (values.tenant ?? values.ttl) !== undefined) throw new UsageError('--tenant and --ttl are options of token');
  if (command !== 'token' && command !== 'keys' && values['key-dir'] !== undefined) throw new UsageError('--key-dir is an option of token and keys');
  if (command === 'token' && values.tenant === undefined) throw new UsageError('token needs --tenant <name>');
  if (wants !== 'none' && operand === undefined) throw new UsageError(`${command} needs ${OPERAND_NAMES[wants]}`);
  if (command === 'keys' && operand !== 'init' && operand !== 'rotate') throw new UsageError(`keys takes init or rotate, not "${operand}"`);
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
    // An empty --token or TASKCTL_TOKEN sends none (as with authentication off).
    token: (values.token ?? env.TASKCTL_TOKEN ?? '').trim() || undefined,
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
    tenant: values.tenant === undefined ? undefined : tenantName(values.tenant),
    ttlSeconds: values.ttl === undefined ? 3600 : ttl(values.ttl),
    keyDir: values['key-dir'] || env.TASKCTL_SIGNING_KEY_DIR || DEV_AUTH.dir,
  };
}

function tenantName(value: string): string {
  if (!TENANT_NAME.test(value)) {
    throw new UsageError(`--tenant must be 1 to 128 of letters, digits and . _ : @ - (starting with a letter or digit), not "${value}"`);
  }
  return value;
}

function ttl(value: string): number {
  const seconds = parseTtl(value);
  if (seconds === null) throw new UsageError(`--ttl must be a lifetime such as 90s, 30m, 1h or 7d (at most 366 days), not "${value}"`);
  return seconds;
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
