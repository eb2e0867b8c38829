import { useEffect, useMemo } from 'preact/hooks';
import type { Api } from './api.js';
import { CreateTask } from './components/CreateTask.js';
import { Overview } from './components/Overview.js';
import { StreamBadge } from './components/StreamBadge.js';
import { TaskList } from './components/TaskList.js';
import { TaskPage } from './components/TaskPage.js';
import { TokenForm } from './components/TokenForm.js';
import { LiveHub } from './live-hub.js';
import { ApiContext, useTokenSaves } from './query-hooks.js';
import { useRoute } from './route.js';
import { watchAllTasks } from './watch.js';

export function App({ api }: { api: Api }) {
  const route = useRoute();
  const hub = useMemo(() => new LiveHub(), []);
  // A token saved starts the stream over with it (not after the backoff of a refused one).
  const tokenSaves = useTokenSaves(api.tokens);
  useEffect(
    () =>
      watchAllTasks(api.client, {
        onTask: (task) => hub.push(task),
        onState: (state) => hub.setState(state),
        // Changes made while the stream was down were not heard: read again.
        onReconnected: () => void api.queries.invalidateQueries(),
      }),
    [api, hub, tokenSaves],
  );
  useEffect(() => {
    document.title = route.page === 'task' ? `Task ${route.taskId} · taskproc` : 'taskproc dashboard';
  }, [route]);

  return (
    <ApiContext.Provider value={api}>
      <header class="top">
        <h1>
          <a href="#/">taskproc</a>
        </h1>
        <StreamBadge hub={hub} />
        <TokenForm />
      </header>
      <main id="main" tabIndex={-1}>
        {route.page === 'task' ? (
          <TaskPage taskId={route.taskId} key={route.taskId} />
        ) : (
          <>
            <div class="grid">
              <Overview hub={hub} />
            </div>
            <CreateTask />
            <TaskList hub={hub} />
          </>
        )}
      </main>
    </ApiContext.Provider>
  );
}
