// A TASK_HANDLER for the crash-loop scenario. A task whose content starts
// with CRASH_PREFIX kills the processor running it (SIGKILL: no handler,
// no shutdown, as an out-of-memory kill or a native crash would), every
// time; any other task is a short wait that stops when the attempt is
// aborted. Types are written out here so the module needs nothing but Node.

export const CRASH_PREFIX = 'crash-loop';
const WORK_MS = 300;

interface Task {
  id: string;
  content: string;
}

export default async function crashLoop(task: Task, context: { signal: AbortSignal }): Promise<void> {
  if (task.content.startsWith(CRASH_PREFIX)) process.kill(process.pid, 'SIGKILL');
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, WORK_MS);
    context.signal.addEventListener('abort', () => (clearTimeout(timer), reject(context.signal.reason)), { once: true });
  });
}
