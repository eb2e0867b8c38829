// @vitest-environment happy-dom
import { create } from '@bufbuild/protobuf';
import { Code, ConnectError, createClient, createRouterTransport, type HandlerContext } from '@connectrpc/connect';
import { TaskSchema, TaskService, TaskStatus } from '@taskproc/contract';
import { QueryClient } from '@tanstack/query-core';
import { render } from 'preact';
import { act } from 'preact/test-utils';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Api } from '../src/api.js';
import { describeError } from '../src/api.js';
import { TokenForm } from '../src/components/TokenForm.js';
import { ApiContext } from '../src/query-hooks.js';
import { TokenStore, bearerTokenInterceptor } from '../src/token.js';

// The dashboard's API token: sent with every call, cleared with a clear
// message when the API refuses it (unary calls and streams alike), and
// asked for when the API wants one the page does not have.

const GOOD = 'good.token.value';
const TASK_ID = '6f1b8c1e-4a4e-4c8a-9d53-0d1c2b3a4f5e';

function check(context: HandlerContext): void {
  const header = context.requestHeader.get('authorization');
  if (header === null) throw new ConnectError('missing bearer token', Code.Unauthenticated);
  if (header !== `Bearer ${GOOD}`) throw new ConnectError('token expired', Code.Unauthenticated);
}

function clientWith(tokens: TokenStore) {
  const transport = createRouterTransport(
    (router) =>
      router.service(TaskService, {
        getTask(request, context) {
          check(context);
          return { task: create(TaskSchema, { id: request.taskId, status: TaskStatus.PENDING }) };
        },
        async *watchTasks(_request, context) {
          check(context);
          yield { task: create(TaskSchema, { id: TASK_ID, status: TaskStatus.PENDING }) };
        },
      }),
    { transport: { interceptors: [bearerTokenInterceptor(tokens)] } },
  );
  return { transport, client: createClient(TaskService, transport) };
}

async function drain(stream: AsyncIterable<unknown>): Promise<void> {
  for await (const _message of stream);
}

beforeEach(() => sessionStorage.clear());

describe('the API token', () => {
  it('is sent with unary calls and streams, and kept while the API accepts it', async () => {
    const tokens = new TokenStore();
    tokens.set(GOOD);
    const { client } = clientWith(tokens);
    expect((await client.getTask({ taskId: TASK_ID })).task?.id).toBe(TASK_ID);
    await drain(client.watchTasks({}));
    expect({ token: tokens.get(), notice: tokens.notice }).toEqual({ token: GOOD, notice: null });
  });

  it('is cleared when the API refuses it, with the reason; the calls after it (without one) keep that reason on show', async () => {
    const tokens = new TokenStore();
    tokens.set('stale.token.value');
    const { client } = clientWith(tokens);
    await expect(client.getTask({ taskId: TASK_ID })).rejects.toMatchObject({ code: Code.Unauthenticated });
    expect(sessionStorage.getItem('taskproc.token')).toBeNull();
    expect(tokens.notice).toEqual({ kind: 'refused', message: 'The API refused the token (token expired), so it was cleared. Paste a new one.' });
    await expect(client.getTask({ taskId: TASK_ID })).rejects.toMatchObject({ rawMessage: 'missing bearer token' });
    expect(tokens.notice?.kind).toBe('refused');
  });

  it('is cleared when a stream is refused too', async () => {
    const tokens = new TokenStore();
    tokens.set('stale.token.value');
    await expect(drain(clientWith(tokens).client.watchTasks({}))).rejects.toMatchObject({ code: Code.Unauthenticated });
    expect({ token: tokens.get(), kind: tokens.notice?.kind }).toEqual({ token: '', kind: 'refused' });
  });

  it('is asked for when the API wants one and there is none; saving one clears the notice', async () => {
    const tokens = new TokenStore();
    await expect(clientWith(tokens).client.getTask({ taskId: TASK_ID })).rejects.toBeInstanceOf(ConnectError);
    expect(tokens.notice).toEqual({ kind: 'missing', message: 'The API needs a token: authentication is on. Paste one below.' });
    tokens.set(GOOD);
    expect({ notice: tokens.notice, saves: tokens.saves }).toEqual({ notice: null, saves: 1 });
  });

  it('is not cleared when the user saved another while the refused call was out', () => {
    const tokens = new TokenStore();
    tokens.set('newer.token.value');
    tokens.refused('older.token.value', 'token expired');
    expect({ token: tokens.get(), notice: tokens.notice }).toEqual({ token: 'newer.token.value', notice: null });
  });

  it('reads as a plain sentence in error notes, with the retry-after of a spent budget', () => {
    expect(describeError(new ConnectError('token expired', Code.Unauthenticated))).toBe(
      'Not signed in: token expired (set an API token at the top of the page)',
    );
    expect(describeError(new ConnectError('request budget spent', Code.ResourceExhausted, { 'retry-after': '3' }))).toBe(
      'Too many requests: request budget spent (try again in 3 s)',
    );
  });
});

describe('TokenForm', () => {
  let root: HTMLElement;
  afterEach(() => {
    render(null, root);
    root.remove();
  });

  it('opens with the reason when the token is refused, and empties its field', () => {
    const tokens = new TokenStore();
    tokens.set('stale.token.value');
    const api: Api = { ...clientWith(tokens), tokens, queries: new QueryClient() };
    root = document.createElement('div');
    document.body.append(root);
    act(() =>
      render(
        <ApiContext.Provider value={api}>
          <TokenForm />
        </ApiContext.Provider>,
        root,
      ),
    );
    expect(root.querySelector('summary')!.textContent).toBe('API token (set)');
    expect(root.querySelector('details')!.open).toBe(false);

    act(() => tokens.refused('stale.token.value', 'token expired'));
    expect(root.querySelector('summary')!.textContent).toBe('API token');
    expect(root.querySelector('details')!.open).toBe(true);
    expect(root.querySelector('[role="alert"]')!.textContent).toBe('The API refused the token (token expired), so it was cleared. Paste a new one.');
    expect((root.querySelector('#api-token') as HTMLInputElement).value).toBe('');
  });
});
