import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { DEV_AUTH, ensureDevSigningKey, signDevToken } from '@taskproc/client/dev-tokens';
import { taskTopology } from '@taskproc/core';
import { BlackholeProxy } from './blackhole-proxy.js';
import { Broker } from './broker.js';
import { check, percentile } from './checker.js';
import { ScenarioDatabase } from './database.js';
import { LoadRecord } from './load.js';
import { freePort } from './ports.js';
import type { ScenarioResult } from './report.js';
import type { Infrastructure, Proxies, Scenario, ScenarioContext } from './scenario.js';
import { Supervisor } from './supervisor.js';
import { System } from './system.js';

/** Each scenario must finish (services, load, fault, drain, check) within this. */
export const SCENARIO_BUDGET_MS = 120_000;
const DEFAULT_DRAIN_MS = 45_000;
/** How often each scenario has run in this process (FAULTS_REPEAT), to name its database and queues. */
const runs = new Map<string, number>();

/** The services' settings unless a scenario says otherwise: .env.test's shape, short work. */
function defaultSettings(): Record<string, string> {
  return {
    DATABASE_POOL_SIZE: '10',
    QUEUE_DELIVERY_LIMIT: '5',
    LOG_LEVEL: 'info',
    TASK_API_HOST: '127.0.0.1',
    OUTBOX_POLL_INTERVAL_MS: '500',
    OUTBOX_BATCH_SIZE: '200',
    TASK_API_SHUTDOWN_GRACE_MS: '3000',
    PROCESSOR_PREFETCH: '50',
    PROCESSING_DURATION_MS: '300',
    PROCESSOR_SHUTDOWN_GRACE_MS: '5000',
    GATEWAY_HOST: '127.0.0.1',
    // Several processors (and a second task-api) run side by side: each
    // metrics server takes a free port instead of its fixed default.
    TASK_API_METRICS_PORT: '0',
    PROCESSOR_METRICS_PORT: '0',
    GATEWAY_METRICS_PORT: '0',
  };
}

/** The services' Node.js flags (V8 heap bounds) as `make start` gives them: NODE_OPTIONS of .env.dev. */
function serviceNodeOptions(repoRoot: string): string {
  return /^NODE_OPTIONS="?([^"\n]*)"?\s*$/m.exec(readFileSync(join(repoRoot, '.env.dev'), 'utf8'))?.[1] ?? '';
}

export interface RunnerOptions {
  repoRoot: string;
  logRoot: string;
  infra: Infrastructure;
  /** Lets an emergency exit kill the current scenario's processes. */
  onSupervisor(supervisor: Supervisor): void;
}

/**
 * Runs one scenario end to end: a fresh database and queue namespace, the
 * scenario itself (bounded in time), then — whatever happened — the
 * infrastructure back up, a drain, the services stopped, and the check.
 */
export async function runScenario(scenario: Scenario, options: RunnerOptions): Promise<ScenarioResult> {
  const started = Date.now();
  const { infra } = options;
  const log = (message: string) => process.stderr.write(`[${scenario.id} ${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s] ${message}\n`);
  const failures: string[] = [];
  const notes: string[] = [];
  let expectedDeadLettered = 0;
  let allowedDeliveryLimit = 0;
  let badInput5xx = 0;

  const dbName = `faults_${scenario.id.replace(/\W/g, '_')}_${(runs.get(scenario.id) ?? 0) + 1}`;
  runs.set(scenario.id, (runs.get(scenario.id) ?? 0) + 1);
  const db = await ScenarioDatabase.create(infra.postgres.url('postgres'), dbName);
  const namespace = `faults.${scenario.id}.${runs.get(scenario.id)}`;
  const topology = taskTopology(namespace, Number(scenario.settings?.QUEUE_DELIVERY_LIMIT ?? 5));
  const [taskApiPort, gatewayPort] = [await freePort(), await freePort()];
  const proxies: Proxies | null =
    scenario.network === 'proxied'
      ? { postgres: await BlackholeProxy.start(infra.postgres.port), rabbit: await BlackholeProxy.start(infra.rabbit.port) }
      : null;
  // Authentication on: a key of the scenario's own, in a folder removed at the end.
  const keyDir = scenario.auth === 'jwt' ? await mkdtemp(join(tmpdir(), 'taskproc-faults-auth-')) : null;
  const keys = keyDir ? await ensureDevSigningKey(keyDir) : null;
  const env: Record<string, string> = {
    ...defaultSettings(),
    ...(keys
      ? { AUTH_MODE: 'jwt', AUTH_JWKS_FILE: keys.jwksFile, AUTH_JWKS_URL: '', AUTH_ISSUER: DEV_AUTH.issuer, AUTH_AUDIENCE: DEV_AUTH.audience }
      : {}),
    NODE_OPTIONS: serviceNodeOptions(options.repoRoot),
    DATABASE_URL: proxies ? proxies.postgres.via(db.url) : db.url,
    AMQP_URL: proxies ? proxies.rabbit.via(infra.rabbit.amqpUrl) : infra.rabbit.amqpUrl,
    QUEUE_NAMESPACE: namespace,
    TASK_API_PORT: String(taskApiPort),
    GATEWAY_PORT: String(gatewayPort),
    GATEWAY_UPSTREAM_URL: `http://127.0.0.1:${taskApiPort}`,
    ...scenario.settings,
  };
  const logDir = `${options.logRoot}/${scenario.id}${runs.get(scenario.id)! > 1 ? `-${runs.get(scenario.id)}` : ''}`;
  const supervisor = new Supervisor(options.repoRoot, logDir);
  options.onSupervisor(supervisor);
  const system = new System(supervisor, options.repoRoot, env);
  const record = new LoadRecord();
  const ctx: ScenarioContext = {
    infra,
    proxies,
    db,
    system,
    topology,
    record,
    logDir,
    log,
    fail: (message) => failures.push(message),
    note: (message) => notes.push(message),
    expectDeadLettered: (count) => (expectedDeadLettered = count),
    allowDeliveryLimitDeadLetters: (max) => (allowedDeliveryLimit = max),
    countBadInput5xx: (count) => (badInput5xx = count),
    tokens: keys ? { for: (tenant) => signDevToken({ signingKeyFile: keys.signingKeyFile, tenant }) } : null,
  };

  log(scenario.title);
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      scenario.run(ctx),
      new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('scenario ran out of its time budget')), SCENARIO_BUDGET_MS))),
    ]);
  } catch (error) {
    failures.push(`scenario aborted: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    clearTimeout(timer);
  }

  // Put back whatever the scenario disturbed before judging the end state.
  proxies?.postgres.release();
  proxies?.rabbit.release();
  await infra.postgres.ensureRunning();
  await infra.rabbit.ensureRunning();

  const drainStarted = Date.now();
  const deadline = drainStarted + (ctx.drainTimeoutMs ?? DEFAULT_DRAIN_MS);
  let unfinished: number | null = null;
  while (Date.now() < deadline) {
    unfinished = await db.unfinishedCount();
    if (unfinished === 0) break;
    await delay(250);
  }
  log(`drained in ${((Date.now() - drainStarted) / 1000).toFixed(1)} s (${unfinished} unfinished)`);

  const broker = await Broker.connect(infra.rabbit.amqpUrl, topology);
  try {
    // Duplicates may still sit in the queue after every task is final; let
    // the processors acknowledge them before stopping them.
    for (let quiet = 0, until = Date.now() + 10_000; quiet < 3 && Date.now() < until; ) {
      quiet = (await broker.depth(topology.taskQueue).catch(() => 1)) === 0 ? quiet + 1 : 0;
      await delay(200);
    }
    await supervisor.stopAll();
    const taskQueueDepth = await broker.depth(topology.taskQueue);
    const letters = await broker.deadLetters();
    const atLimit = letters.filter((l) => l.reason === null && l.brokerReason === 'delivery_limit').length;
    const unexplained = letters.filter((l) => l.reason === null).length - (allowedDeliveryLimit > 0 ? atLimit : 0);
    if (unexplained > 0) failures.push(`${unexplained} dead letter(s) without an ${'x-taskproc-reason'} header (delivery limit reached?)`);
    if (allowedDeliveryLimit > 0) {
      notes.push(`${atLimit} message(s) dead-lettered by the broker at the delivery limit (at most ${allowedDeliveryLimit} allowed)`);
      if (atLimit > allowedDeliveryLimit) failures.push(`${atLimit} message(s) dead-lettered at the delivery limit, more than the ${allowedDeliveryLimit} allowed`);
    }
    const deadLettered = letters.filter((l) => l.reason !== null).length;
    const outcome = await check({ db, record, taskQueueDepth, deadLettered, expectedDeadLettered, badInput5xx });
    failures.push(...outcome.failures, ...supervisor.unexpectedExits);
    notes.unshift(...outcome.notes);
    if (outcome.latenciesMs.length > 0) {
      const [p50, p99] = [percentile(outcome.latenciesMs, 50), percentile(outcome.latenciesMs, 99)];
      notes.push(`throughput ${outcome.throughputPerSecond.toFixed(1)} tasks/s; submit-to-completed p50 ${p50} ms, p99 ${p99} ms`);
    }
    const answers = record.answerHistogram();
    if (Object.keys(answers).length > 0) {
      notes.push(`answers: ${Object.entries(answers).map(([k, v]) => `${k} ${v}`).join(', ')}`);
    }
    const durationMs = Date.now() - started;
    if (durationMs > SCENARIO_BUDGET_MS) failures.push(`took ${(durationMs / 1000).toFixed(0)} s, over the 2-minute budget`);
    return { id: scenario.id, title: scenario.title, figures: outcome.figures, failures, notes, durationMs };
  } finally {
    supervisor.killAll();
    await broker.close();
    await db.close();
    await Promise.all([proxies?.postgres.close(), proxies?.rabbit.close()]);
    if (keyDir) await rm(keyDir, { recursive: true, force: true });
  }
}
