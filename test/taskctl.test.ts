import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runTaskctl } from '../sdk/typescript/src/cli/taskctl.js';
import { startTaskApiHarness, type TaskApiHarness } from './support/task-api-harness.js';
import { waitFor } from './support/wait-for.js';
import { UUID, repoRoot, run, type RunResult } from './sdk/toolchain.js';

// The taskctl command-line client against a real task-api: commands, output,
// exit codes. Each command runs twice over: as a process through
// sdk/typescript/bin/taskctl.js (the file `npx taskctl` runs; about a second
// per start, so used sparingly) and in this process through runTaskctl, the
// function that process runs, for the long tables.

const TASKCTL = 'sdk/typescript/bin/taskctl.js';
const REST_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;

let harness: TaskApiHarness;

beforeAll(async () => {
  harness = await startTaskApiHarness('taskctl');
});

afterAll(async () => {
  await harness?.close();
});

interface TaskctlOptions {
  input?: string;
  env?: Record<string, string>;
}

/** Runs the taskctl executable with TASKCTL_URL pointing at the test's task-api. */
function taskctl(args: string[], options: TaskctlOptions = {}): Promise<RunResult> {
  return run(process.execPath, [TASKCTL, ...args], { ...options, env: { TASKCTL_URL: harness.api.url, ...options.env } });
}

/** Runs the same command in this process (what bin/taskctl.js ends up calling). */
async function taskctlInProcess(args: string[], { input = '', env = {} }: TaskctlOptions = {}): Promise<RunResult> {
  let stdout = '';
  let stderr = '';
  const code = await runTaskctl({
    argv: args,
    env: { TASKCTL_URL: harness.api.url, ...env },
    stdin: Readable.from([input]),
    stdout: { write: (chunk: string) => (stdout += chunk) },
    stderr: { write: (chunk: string) => (stderr += chunk) },
  });
  return { code, signal: null, stdout, stderr };
}

function json(result: RunResult) {
  expect(result.code, `taskctl failed:\n${result.stderr}`).toBe(0);
  return JSON.parse(result.stdout);
}

/** create, get and cancel through `runner`, checking the JSON output and the stored task. */
async function createGetCancel(runner: typeof taskctl, transport: string): Promise<void> {
  const created = json(await runner(['--transport', transport, '--json', 'create', `from taskctl over ${transport}`]));
  expect(created).toEqual({
    id: expect.stringMatching(UUID),
    content: `from taskctl over ${transport}`,
    status: 'pending',
    created_at: expect.stringMatching(REST_TIME),
    updated_at: null,
  });
  expect(json(await runner(['--transport', transport, '--json', 'get', created.id]))).toEqual(created);

  const canceled = json(await runner(['--json', '--transport', transport, 'cancel', created.id]));
  expect(canceled).toEqual({ ...created, status: 'canceled', updated_at: expect.stringMatching(REST_TIME) });
  const rows = await harness.database.query('select status from task where id = $1', [created.id]);
  expect(rows).toEqual([{ status: 'canceled' }]);
}

describe('taskctl', () => {
  it('creates, gets and cancels a task as a process (--transport grpc --json)', () => createGetCancel(taskctl, 'grpc'), 60_000);

  it.each(['grpc', 'connect', 'grpc-web'])('creates, gets and cancels a task (--transport %s --json)', (transport) =>
    createGetCancel(taskctlInProcess, transport),
  );

  it('prints a readable task without --json, reads "-" content from stdin, and honours --url over TASKCTL_URL', async () => {
    const result = await taskctlInProcess(['--url', harness.api.url, 'create', '-'], {
      input: 'content from stdin',
      env: { TASKCTL_URL: 'http://127.0.0.1:9' },
    });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^id: +[0-9a-f-]{36}\ncontent: +content from stdin\nstatus: +pending\ncreated_at: +\S+\nupdated_at: +-\n$/);
  });

  it('exits with the documented codes as a process', async () => {
    const { id } = json(await taskctl(['--json', 'create', 'to be canceled twice']));
    expect(json(await taskctl(['--json', 'cancel', id])).status).toBe('canceled');
    const again = await taskctl(['cancel', id]);
    expect({ code: again.code, stdout: again.stdout }).toEqual({ code: 5, stdout: '' });
    expect(again.stderr).toMatch(/^taskctl: .*canceled.* \[FAILED_PRECONDITION\]\n$/);
    const usage = await taskctl(['get']);
    expect({ code: usage.code, stderr: usage.stderr }).toEqual({ code: 2, stderr: 'taskctl: get needs a task id\nRun "taskctl --help" for usage.\n' });
  }, 60_000);

  it('exits with the documented codes and a clear message on stderr', async () => {
    const taskctl = taskctlInProcess;
    const { id } = json(await taskctl(['--json', 'create', 'to be canceled twice']));
    expect(json(await taskctl(['--json', 'cancel', id])).status).toBe('canceled');

    const cases: [string[], number, RegExp][] = [
      [['get', randomUUID()], 3, /^taskctl: .*not found.* \[NOT_FOUND\]$/i],
      [['get', 'not-a-uuid'], 4, /^taskctl: .* \[INVALID_ARGUMENT\]$/],
      [['create', ''], 4, /^taskctl: .* \[INVALID_ARGUMENT\]$/],
      [['cancel', id], 5, /^taskctl: .*canceled.* \[FAILED_PRECONDITION\]$/],
      [['get'], 2, /^taskctl: get needs a task id\nRun "taskctl --help" for usage\.$/],
      [['frobnicate', 'x'], 2, /^taskctl: unknown command "frobnicate"/],
      [['--transport', 'carrier-pigeon', 'get', id], 2, /^taskctl: --transport must be grpc, connect or grpc-web/],
      [['--url', 'http://127.0.0.1:9', 'get', id], 6, /^taskctl: task-api at http:\/\/127\.0\.0\.1:9 \(connect\) is unavailable: .* \[UNAVAILABLE\]$/],
    ];
    for (const [args, code, message] of cases) {
      const result = await taskctlInProcess(args);
      expect({ args, code: result.code, stderr: result.stderr.trim() }).toEqual({ args, code, stderr: expect.stringMatching(message) });
      expect(result.stdout).toBe('');
    }
  });

  it('documents its commands and exit codes in --help', async () => {
    const result = await taskctlInProcess(['--help']);
    expect(result.code).toBe(0);
    for (const text of ['create <content>', 'get <id>', 'cancel <id>', 'watch <id>', '--json', '--url', '--transport', 'Exit codes']) {
      expect(result.stdout).toContain(text);
    }
  });

  it('watch shows each change of status and exits 0 once the task is final', async () => {
    const { id } = json(await taskctl(['--json', 'create', 'watched by taskctl']));
    const watch = spawn(process.execPath, [TASKCTL, '--json', '--interval', '20', 'watch', id], {
      cwd: repoRoot,
      env: { ...process.env, TASKCTL_URL: harness.api.url },
    });
    let stdout = '';
    watch.stdout.on('data', (chunk) => (stdout += chunk));
    const exited = new Promise<number | null>((resolve) => watch.on('exit', (code) => resolve(code)));
    try {
      // No processor runs here, so the task is pending until it is canceled.
      await waitFor(() => stdout, (out) => out.includes('"status":"pending"'), { timeoutMs: 15_000, description: 'watch to print pending' });
      expect(json(await taskctl(['--json', 'cancel', id])).status).toBe('canceled');
      expect(await exited).toBe(0);
    } finally {
      watch.kill();
    }
    const lines = stdout.trim().split('\n').map((line) => JSON.parse(line));
    expect(lines.map((task) => task.status)).toEqual(['pending', 'canceled']);
  }, 60_000);

  it('watch --timeout exits 7 when the task does not become final in time', async () => {
    const taskctl = taskctlInProcess;
    const { id } = json(await taskctl(['--json', 'create', 'never processed here']));
    const result = await taskctl(['--timeout', '300', '--interval', '20', 'watch', id]);
    expect(result.code).toBe(7);
    expect(result.stdout).toMatch(/^\S+Z {2}pending\n$/);
    expect(result.stderr).toMatch(/did not become completed, canceled or failed within 300 ms \(last status: pending\)/);
  });
});

describe('taskctl retry', () => {
  /** A task failed the way processors fail one (through the trigger's arrows). */
  async function failedTask(): Promise<string> {
    const { id } = json(await taskctlInProcess(['--json', 'create', 'fails']));
    await harness.database.query(`update task set status = 'processing', attempt = 1, updated_at = clock_timestamp() where id = $1`, [id]);
    await harness.database.query(`update task set status = 'failed', error = 'refused on purpose', failed_attempts = 1 where id = $1`, [id]);
    return id;
  }

  it('shows a failed task with its error, and retry makes it pending again', async () => {
    const id = await failedTask();
    expect(json(await taskctlInProcess(['--json', 'get', id]))).toMatchObject({ id, status: 'failed', error: 'refused on purpose' });
    expect((await taskctlInProcess(['get', id])).stdout).toMatch(/\nstatus: +failed\n[\s\S]*\nerror: +refused on purpose\n$/);

    const retried = json(await taskctl(['--json', 'retry', id]));
    expect(retried).toEqual({ id, content: 'fails', status: 'pending', created_at: expect.stringMatching(REST_TIME), updated_at: expect.stringMatching(REST_TIME) });
    const [row] = await harness.database.query(`select status, attempt from task where id = $1`, [id]);
    expect(row).toEqual({ status: 'pending', attempt: 0 });
  }, 60_000);

  it('exits 5 naming the status for a task that is not failed, 3 for an unknown one', async () => {
    const { id } = json(await taskctlInProcess(['--json', 'create', 'pending, not failed']));
    const refused = await taskctlInProcess(['retry', id]);
    expect({ code: refused.code, stdout: refused.stdout }).toEqual({ code: 5, stdout: '' });
    expect(refused.stderr).toMatch(/^taskctl: .*is pending, not failed.* \[FAILED_PRECONDITION\]\n$/);
    expect((await taskctlInProcess(['retry', randomUUID()])).code).toBe(3);
    expect((await taskctlInProcess(['--help'])).stdout).toContain('retry <id>');
  });
});
