import { useState } from 'preact/hooks';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import type { Task } from '@taskproc/contract';
import { useApi } from '../query-hooks.js';
import { taskHref } from '../route.js';
import { parseLocalDateTime } from '../time.js';
import { ErrorNote, Section } from './common.js';

/** CreateTask with its options; the API validates, and its message is shown as it comes. */
export function CreateTask() {
  const { client, queries } = useApi();
  const [content, setContent] = useState('');
  const [requestId, setRequestId] = useState('');
  const [scheduleAt, setScheduleAt] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [created, setCreated] = useState<Task | null>(null);

  async function submit(event: Event) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    setCreated(null);
    try {
      const schedule = parseLocalDateTime(scheduleAt);
      const { task } = await client.createTask({
        content,
        requestId: requestId.trim(),
        scheduleTime: schedule ? timestampFromDate(schedule) : undefined,
      });
      setCreated(task ?? null);
      void queries.invalidateQueries();
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  }

  return (
    <Section title="Create a task" id="create">
      <form class="create" onSubmit={submit}>
        <label for="create-content">Content</label>
        <textarea id="create-content" name="content" rows={3} value={content} onInput={(e) => setContent(e.currentTarget.value)} />
        <div class="options">
          <div>
            <label for="create-request-id">Request id (optional, for idempotent retries)</label>
            <input id="create-request-id" name="request_id" value={requestId} onInput={(e) => setRequestId(e.currentTarget.value)} autocomplete="off" />
          </div>
          <div>
            <label for="create-schedule">Not before (optional, your local time)</label>
            <input id="create-schedule" name="schedule_time" type="datetime-local" step={1} value={scheduleAt} onInput={(e) => setScheduleAt(e.currentTarget.value)} />
          </div>
        </div>
        <button type="submit" disabled={busy}>
          {busy ? 'Creating…' : 'Create task'}
        </button>
      </form>
      <ErrorNote error={error} prefix="Not created" />
      {created ? (
        <p class="ok" role="status">
          Created <a href={taskHref(created.id)}>{created.id}</a>
        </p>
      ) : null}
    </Section>
  );
}
