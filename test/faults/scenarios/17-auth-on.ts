import { createTaskClient, listAllTasks, type TaskClient } from '@taskproc/client';
import { REQUEST_DEADLINE_MS, type Answer } from '../lib/clients.js';
import { submitLoad, type Clients } from '../lib/load.js';
import type { Scenario, ScenarioContext } from '../lib/scenario.js';

const TENANTS = ['acme', 'globex'] as const;
type Tenant = (typeof TENANTS)[number];
const PER_TENANT = 300;
/** Tasks of the other tenant each one tries to read and cancel after the load. */
const PROBES = 40;

/**
 * Authentication on (AUTH_MODE=jwt, a key of the scenario's own): two
 * tenants load the system at once, each with its own token, over gRPC and
 * REST, while each watches every change it may see (WatchTasks). The
 * checker's zeros hold for both together; besides, no tenant can see the
 * other's tasks: a get or cancel of one is NOT_FOUND (REST 404), listing and
 * watching show only its own, its stats count only its own, and every row
 * belongs to the tenant whose token created it. A caller without a token
 * gets UNAUTHENTICATED (REST 401) and creates nothing.
 */
export const authOn: Scenario = {
  id: '17-auth-on',
  title: 'authentication on: two tenants at once, neither sees the other',
  auth: 'jwt',
  async run(ctx) {
    const { system } = ctx;
    await system.startAll(2);
    const tokens = { acme: await ctx.tokens!.for('acme'), globex: await ctx.tokens!.for('globex') };
    const clients = { acme: system.clientsWithToken(tokens.acme), globex: system.clientsWithToken(tokens.globex) };
    // The TypeScript SDK for what the suite's clients do not do (list, stats, watch).
    const sdk = {
      acme: createTaskClient({ baseUrl: system.taskApiUrl, transport: 'grpc', token: tokens.acme }),
      globex: createTaskClient({ baseUrl: system.taskApiUrl, transport: 'grpc', token: tokens.globex }),
    };
    const stopWatching = new AbortController();
    try {
      await refusesWithoutToken(ctx);
      const heard = { acme: new Set<string>(), globex: new Set<string>() };
      const watches = TENANTS.map((tenant) => listen(ctx, sdk[tenant], tenant, heard[tenant], stopWatching.signal));

      await Promise.all(
        TENANTS.map((tenant) =>
          submitLoad(clients[tenant], ctx.record, ctx.topology.taskQueue, { count: PER_TENANT, concurrency: 12, content: (i) => contentOf(tenant, i) }),
        ),
      );
      const own = acknowledgedBy(ctx);
      for (const tenant of TENANTS) await probeOther(ctx, tenant, clients[tenant], own[other(tenant)]);
      for (const tenant of TENANTS) await checkListing(ctx, tenant, sdk[tenant], own);

      stopWatching.abort();
      await Promise.all(watches);
      for (const tenant of TENANTS) {
        const foreign = [...heard[tenant]].filter((id) => own[other(tenant)].has(id)).length;
        if (foreign > 0) ctx.fail(`${tenant}'s WatchTasks stream carried ${foreign} task(s) of ${other(tenant)}`);
        if (![...heard[tenant]].some((id) => own[tenant].has(id))) ctx.fail(`${tenant}'s WatchTasks stream heard none of its own tasks`);
      }
      ctx.note(`watch streams heard ${TENANTS.map((t) => `${t} ${heard[t].size}`).join(', ')} task(s), none of the other tenant's`);
      await checkRows(ctx);
    } finally {
      stopWatching.abort();
      for (const client of Object.values(sdk)) client.close();
    }
  },
};

function other(tenant: Tenant): Tenant {
  return tenant === 'acme' ? 'globex' : 'acme';
}

function contentOf(tenant: Tenant, i: number): string {
  return `faults 17-auth-on ${tenant} task ${i}`;
}

/** The tenant a task's content names (contentOf). */
function tenantOfContent(content: string): Tenant | undefined {
  return TENANTS.find((tenant) => content.startsWith(`faults 17-auth-on ${tenant} `));
}

/** Each tenant's acknowledged task ids. */
function acknowledgedBy(ctx: ScenarioContext): Record<Tenant, Set<string>> {
  const ids = { acme: new Set<string>(), globex: new Set<string>() };
  for (const [id, submission] of ctx.record.acknowledged()) {
    const tenant = tenantOfContent(submission.content);
    if (tenant) ids[tenant].add(id);
  }
  return ids;
}

/** The suite's clients without a token: UNAUTHENTICATED over gRPC, 401 over REST, and nothing created. */
async function refusesWithoutToken(ctx: ScenarioContext): Promise<void> {
  const { clients } = ctx.system;
  const answers: Answer[] = [await clients.grpc.create('faults 17-auth-on without a token')];
  if (clients.rest) answers.push(await clients.rest.create('faults 17-auth-on without a token'));
  const expected = clients.rest ? ['UNAUTHENTICATED', 'HTTP 401'] : ['UNAUTHENTICATED'];
  const got = answers.map((answer) => answer.answer);
  if (got.join() !== expected.join()) ctx.fail(`creates without a token were answered ${got.join(', ')}, not ${expected.join(', ')}`);
}

/** Follows WatchTasks as `tenant` until the signal, collecting the ids it carries. */
async function listen(ctx: ScenarioContext, client: TaskClient, tenant: Tenant, heard: Set<string>, signal: AbortSignal): Promise<void> {
  try {
    // No deadline: it ends when the signal aborts it.
    for await (const message of client.watchTasks({}, { signal })) if (message.task) heard.add(message.task.id);
  } catch (error) {
    if (!signal.aborted) ctx.fail(`${tenant}'s WatchTasks stream failed: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** `tenant` reads and cancels some of the other tenant's tasks: each must be NOT_FOUND (REST 404) and stay as it was. */
async function probeOther(ctx: ScenarioContext, tenant: Tenant, clients: Clients, theirs: Set<string>): Promise<void> {
  const sample = [...theirs].slice(0, PROBES);
  const wrong: string[] = [];
  for (const [i, id] of sample.entries()) {
    const answers = [await clients.grpc.get(id), await clients.grpc.cancel(id)];
    if (clients.rest) answers.push(i % 2 === 0 ? await clients.rest.get(id) : await clients.rest.cancel(id));
    for (const answer of answers) if (answer.answer !== 'NOT_FOUND' && answer.answer !== 'HTTP 404') wrong.push(answer.answer);
  }
  if (wrong.length > 0) ctx.fail(`${tenant} reading or canceling ${other(tenant)}'s tasks got ${wrong.length} answer(s) other than not found: ${[...new Set(wrong)].join(', ')}`);
  ctx.note(`${tenant}: ${sample.length} of ${other(tenant)}'s tasks probed (get, cancel${clients.rest ? ', REST' : ''}), each not found`);
}

/** `tenant` lists every task it has: all of its own, none of the other's; its stats count its own rows only. */
async function checkListing(ctx: ScenarioContext, tenant: Tenant, client: TaskClient, own: Record<Tenant, Set<string>>): Promise<void> {
  const listed = new Set<string>();
  for await (const task of listAllTasks(client, { pageSize: 500, timeoutMs: REQUEST_DEADLINE_MS })) listed.add(task.id);
  const foreign = [...listed].filter((id) => own[other(tenant)].has(id)).length;
  const missing = [...own[tenant]].filter((id) => !listed.has(id)).length;
  if (foreign > 0) ctx.fail(`${tenant}'s ListTasks showed ${foreign} task(s) of ${other(tenant)}`);
  if (missing > 0) ctx.fail(`${tenant}'s ListTasks left out ${missing} of its own acknowledged tasks`);

  const stats = await client.getTaskStats({}, { timeoutMs: REQUEST_DEADLINE_MS });
  const counted = stats.counts.reduce((sum, count) => sum + Number(count.count), 0);
  const [row] = await ctx.db.query<{ n: number }>('select count(*)::int as n from task where tenant = $1', [tenant]);
  if (counted !== row!.n) ctx.fail(`${tenant}'s GetTaskStats counted ${counted} task(s); the database holds ${row!.n} of its own`);
}

/** Every row belongs to the tenant whose token created it; none was created without a token. */
async function checkRows(ctx: ScenarioContext): Promise<void> {
  const rows = await ctx.db.query<{ tenant: string; content: string }>('select tenant, content from task');
  const misplaced = rows.filter((row) => tenantOfContent(row.content) !== row.tenant).length;
  if (misplaced > 0) ctx.fail(`${misplaced} task row(s) do not belong to the tenant whose token created them`);
  const byTenant = TENANTS.map((tenant) => `${tenant} ${rows.filter((row) => row.tenant === tenant).length}`).join(', ');
  ctx.note(`task rows by tenant: ${byTenant}`);
}
