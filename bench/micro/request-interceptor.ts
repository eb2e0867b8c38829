import { createLogger } from '@taskproc/core';
import { TaskService } from '@taskproc/contract';
import { requestInterceptor } from '../../services/task-api/src/interceptors.js';

// CPU per call of task-api's request interceptor and its request log line,
// without the network, the RPC framework or the database around it: what a
// change to interceptors.ts or to the logging buys per call. Run with stdout
// sent to a file, as the services' logs are:
//   node --conditions=development --import tsx bench/micro/request-interceptor.ts > /tmp/lines.log
// It prints its figure on stderr.

const calls = Number(process.argv[2] ?? 200_000);
const logger = createLogger('task-api', (process.env.MICRO_LEVEL ?? 'info') as 'info');
const method = TaskService.method.createTask;
const response = { stream: false as const, service: TaskService, method, header: new Headers(), trailer: new Headers(), message: {} };
const handler = requestInterceptor(logger)(async () => response as never);
const request = { stream: false, service: TaskService, method, requestMethod: 'POST', url: 'http://x/taskproc.v1.TaskService/CreateTask', signal: new AbortController().signal, header: new Headers(), contextValues: undefined, message: {} } as never;

for (let i = 0; i < 20_000; i++) await handler(request); // warm-up
const before = process.cpuUsage();
const started = performance.now();
for (let i = 0; i < calls; i++) await handler(request);
const cpu = process.cpuUsage(before);
const elapsed = performance.now() - started;
process.stderr.write(`request interceptor + log line: ${(((cpu.user + cpu.system) / calls)).toFixed(2)} µs CPU per call (${calls} calls, ${(elapsed / 1000).toFixed(2)} s)\n`);
