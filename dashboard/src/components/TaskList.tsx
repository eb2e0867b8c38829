import { useEffect, useState } from 'preact/hooks';
import { createQueryOptions } from '@connectrpc/connect-query-core';
import { TaskService, TaskStatus, type Task } from '@taskproc/contract';
import type { LiveHub } from '../live-hub.js';
import { mergeIntoPage } from '../page-merge.js';
import { useApi, useQuery } from '../query-hooks.js';
import { taskHref } from '../route.js';
import { STATUS_NAMES, isStatusName, statusOf, type StatusName } from '../status.js';
import { formatTime } from '../time.js';
import { ErrorNote, Section, StatusBadge } from './common.js';

const PAGE_SIZES = [10, 20, 50, 100];

/**
 * ListTasks, newest first, one page at a time with the API's page tokens,
 * its rows kept current by the shared WatchTasks stream.
 */
export function TaskList({ hub }: { hub: LiveHub }) {
  const { transport } = useApi();
  const [filter, setFilter] = useState<StatusName | 'all'>('all');
  const [pageSize, setPageSize] = useState(20);
  // Tokens of the pages before this one, and this page's ('' for the first).
  const [tokens, setTokens] = useState<string[]>(['']);
  const pageToken = tokens[tokens.length - 1]!;
  const status = filter === 'all' ? TaskStatus.UNSPECIFIED : statusOf(filter);
  const page = useQuery(createQueryOptions(TaskService.method.listTasks, { status, pageSize, pageToken }, { transport }));

  const [rows, setRows] = useState<Task[]>([]);
  useEffect(() => setRows(page.data?.tasks ?? []), [page.data]);
  const nextToken = page.data?.nextPageToken ?? '';
  useEffect(
    () =>
      hub.onTask((task) =>
        setRows((current) => mergeIntoPage({ tasks: current, first: pageToken === '', hasNext: nextToken !== '', filter: status }, task)),
      ),
    [hub, pageToken, nextToken, status],
  );

  const restart = () => setTokens(['']);
  const pageNumber = tokens.length;

  return (
    <Section title="Tasks" id="tasks" actions={<FindTask />}>
      <form class="list-controls" onSubmit={(e) => e.preventDefault()}>
        <label for="filter-status">Status</label>
        <select
          id="filter-status"
          value={filter}
          onChange={(e) => {
            const value = e.currentTarget.value;
            setFilter(isStatusName(value) ? value : 'all');
            restart();
          }}
        >
          <option value="all">all</option>
          {STATUS_NAMES.map((name) => (
            <option value={name} key={name}>
              {name}
            </option>
          ))}
        </select>
        <label for="page-size">Per page</label>
        <select
          id="page-size"
          value={String(pageSize)}
          onChange={(e) => {
            setPageSize(Number(e.currentTarget.value));
            restart();
          }}
        >
          {PAGE_SIZES.map((size) => (
            <option value={String(size)} key={size}>
              {size}
            </option>
          ))}
        </select>
      </form>

      <ErrorNote error={page.error} prefix="Could not list tasks" />
      <div class="table-wrap">
        <table class="tasks" aria-describedby="tasks-page" aria-busy={page.isFetching}>
          <thead>
            <tr>
              <th scope="col">Id</th>
              <th scope="col">Status</th>
              <th scope="col">Content</th>
              <th scope="col" class="wide">
                Created
              </th>
              <th scope="col" class="wide">
                Updated
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.map((task) => (
              <tr key={task.id} data-task-id={task.id} data-status-row={task.status}>
                <td class="id">
                  <a href={taskHref(task.id)}>{task.id}</a>
                </td>
                <td>
                  <StatusBadge status={task.status} />
                </td>
                <td class="content">{task.content}</td>
                <td class="wide">{formatTime(task.createdAt)}</td>
                <td class="wide">{formatTime(task.updatedAt)}</td>
              </tr>
            ))}
            {rows.length === 0 && !page.isPending ? (
              <tr>
                <td colSpan={5} class="empty">
                  No tasks{filter === 'all' ? '' : ` with status ${filter}`} on this page.
                </td>
              </tr>
            ) : null}
          </tbody>
        </table>
      </div>
      <nav class="pager" aria-label="Pages of tasks">
        <button type="button" disabled={tokens.length <= 1} onClick={() => setTokens(tokens.slice(0, -1))}>
          ← Newer
        </button>
        <span id="tasks-page" aria-live="polite">
          Page {pageNumber}
        </span>
        <button type="button" disabled={!nextToken} onClick={() => setTokens([...tokens, nextToken])}>
          Older →
        </button>
      </nav>
    </Section>
  );
}

/** Find a task by its id: GetTask, then its page; the API's message when there is none. */
function FindTask() {
  const { client } = useApi();
  const [id, setId] = useState('');
  const [error, setError] = useState<unknown>(null);
  async function find(event: Event) {
    event.preventDefault();
    setError(null);
    try {
      const { task } = await client.getTask({ taskId: id.trim() });
      if (task) window.location.hash = taskHref(task.id);
    } catch (failure) {
      setError(failure);
    }
  }
  return (
    <form class="find" role="search" onSubmit={find}>
      <label for="find-id">Task id</label>
      <input id="find-id" name="task_id" value={id} onInput={(e) => setId(e.currentTarget.value)} placeholder="0193f1f2-…" autocomplete="off" spellcheck={false} />
      <button type="submit">Open</button>
      <ErrorNote error={error} />
    </form>
  );
}
