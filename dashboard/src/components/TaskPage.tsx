import { useEffect, useState } from 'preact/hooks';
import { createConnectQueryKey, createQueryOptions } from '@connectrpc/connect-query-core';
import { create } from '@bufbuild/protobuf';
import { GetTaskResponseSchema, TaskService, type Task, type TaskEvent } from '@taskproc/contract';
import { useApi, useQuery, useTokenSaves } from '../query-hooks.js';
import { canCancel, canRetry, isFinal } from '../status.js';
import { formatDuration, formatTime, millisOf } from '../time.js';
import { watchOneTask, type StreamState } from '../watch.js';
import { ErrorNote, Section, StatusBadge } from './common.js';

/** One task: its fields, its history, and what may be done with it; live while it runs (WatchTask). */
export function TaskPage({ taskId }: { taskId: string }) {
  const { client, transport, queries, tokens } = useApi();
  const taskOptions = createQueryOptions(TaskService.method.getTask, { taskId }, { transport });
  const eventsOptions = createQueryOptions(TaskService.method.listTaskEvents, { taskId }, { transport });
  const task = useQuery(taskOptions);
  const events = useQuery(eventsOptions);
  const [stream, setStream] = useState<StreamState>({ kind: 'connecting' });
  const [actionError, setActionError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  // A watch ends at a final status; a retry starts the next round.
  const [round, setRound] = useState(0);

  const show = (updated: Task | undefined) => {
    if (!updated) return;
    queries.setQueryData(taskOptions.queryKey, create(GetTaskResponseSchema, { task: updated }));
    void queries.invalidateQueries({ queryKey: eventsOptions.queryKey });
  };

  const tokenSaves = useTokenSaves(tokens);
  useEffect(
    () => watchOneTask(client, taskId, { onTask: show, onState: setStream, onReconnected: () => void queries.invalidateQueries() }),
    [taskId, round, tokenSaves],
  );

  async function act(action: 'cancel' | 'retry') {
    setBusy(true);
    setActionError(null);
    try {
      const answer = action === 'cancel' ? await client.cancelTask({ taskId }) : await client.retryTask({ taskId });
      show(answer.task);
      void queries.invalidateQueries({ queryKey: createConnectQueryKey({ schema: TaskService, cardinality: undefined }) });
      // A retried task runs again: watch it again (its previous stream ended at failed).
      if (action === 'retry') setRound((r) => r + 1);
    } catch (failure) {
      setActionError(failure);
    } finally {
      setBusy(false);
    }
  }

  const current = task.data?.task;
  return (
    <>
      <p>
        <a href="#/">← All tasks</a>
      </p>
      <Section title="Task" id="task">
        <ErrorNote error={task.error} prefix="Could not read the task" />
        {current ? (
          <>
            <dl class="fields">
              <div>
                <dt>Id</dt>
                <dd class="id" data-field="id">
                  {current.id}
                </dd>
              </div>
              <div>
                <dt>Status</dt>
                <dd data-field="status">
                  <StatusBadge status={current.status} />{' '}
                  <span class="muted">{isFinal(current) ? '' : stream.kind === 'live' ? '(live)' : ''}</span>
                </dd>
              </div>
              <div>
                <dt>Created</dt>
                <dd>{formatTime(current.createdAt)}</dd>
              </div>
              <div>
                <dt>Updated</dt>
                <dd>{formatTime(current.updatedAt)}</dd>
              </div>
              {current.scheduleTime ? (
                <div>
                  <dt>Not before</dt>
                  <dd>{formatTime(current.scheduleTime)}</dd>
                </div>
              ) : null}
              {current.error !== undefined ? (
                <div>
                  <dt>Error</dt>
                  <dd class="task-error" data-field="error">
                    {current.error}
                  </dd>
                </div>
              ) : null}
              <div class="full">
                <dt>Content</dt>
                <dd>
                  <pre data-field="content">{current.content}</pre>
                </dd>
              </div>
            </dl>
            <div class="actions">
              <button type="button" onClick={() => act('cancel')} disabled={busy || !canCancel(current)}>
                Cancel task
              </button>
              <button type="button" onClick={() => act('retry')} disabled={busy || !canRetry(current)}>
                Retry task
              </button>
            </div>
            <ErrorNote error={actionError} prefix="Refused" />
          </>
        ) : null}
      </Section>
      <Section title="History" id="history">
        <ErrorNote error={events.error} prefix="Could not read the history" />
        <Timeline events={events.data?.events ?? []} />
      </Section>
    </>
  );
}

export function Timeline({ events }: { events: readonly TaskEvent[] }) {
  if (events.length === 0) return <p class="muted">No events yet.</p>;
  return (
    <div class="table-wrap">
      <table class="timeline">
        <thead>
          <tr>
            <th scope="col">Status</th>
            <th scope="col">Attempt</th>
            <th scope="col">At</th>
            <th scope="col">After</th>
            <th scope="col">Error</th>
          </tr>
        </thead>
        <tbody>
          {events.map((event, index) => {
            const previous = index > 0 ? millisOf(events[index - 1]!.at) : undefined;
            const at = millisOf(event.at);
            return (
              <tr key={index} data-event={index}>
                <td>
                  <StatusBadge status={event.status} />
                </td>
                <td>{event.attempt}</td>
                <td>{formatTime(event.at)}</td>
                <td>{previous === undefined || at === undefined ? '—' : formatDuration(at - previous)}</td>
                <td class="task-error">{event.error ?? ''}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
