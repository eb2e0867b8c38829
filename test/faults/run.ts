import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PrivatePostgres } from './lib/infra/postgres.js';
import { PrivateRabbit } from './lib/infra/rabbitmq.js';
import { formatReport, passed, type ScenarioResult } from './lib/report.js';
import { runScenario } from './lib/runner.js';
import type { Supervisor } from './lib/supervisor.js';
import { scenarios } from './scenarios/index.js';

// The fault-injection suite (`make test-faults`). It starts a PostgreSQL
// cluster and a RabbitMQ node of its own on free ports, runs each scenario
// against the real services as processes, prints one table line per
// scenario and exits non-zero if any figure that must be 0 is not.
//
// Usage: run.ts [scenario numbers or ids...]   e.g. run.ts 1 5 or run.ts 07-poison
//        FAULTS=2,5 selects scenarios too; FAULTS_REPEAT=3 runs the selection three times;
//        FAULTS_SEED=n repeats scenario 10's generated requests;
//        FAULTS_KEEP=1 keeps the temporary cluster directories for inspection.

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const started = Date.now();
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const logRoot = join(repoRoot, '.run', 'faults', stamp);
mkdirSync(logRoot, { recursive: true });

// FAULTS_REPEAT=n runs the selection n times (hunting a rare interleaving).
const repeat = Math.max(1, Number(process.env.FAULTS_REPEAT ?? 1) || 1);
const selected = Array.from({ length: repeat }, () =>
  selectScenarios(process.argv.slice(2).concat((process.env.FAULTS ?? '').split(/[\s,]+/)).filter(Boolean)),
).flat();

const baseDir = mkdtempSync('/tmp/taskproc-faults-');
// The servers run as their own system users and must reach their directories.
chmodSync(baseDir, 0o755);

let current: Supervisor | null = null;
let infra: { postgres: PrivatePostgres | null; rabbit: PrivateRabbit | null } = { postgres: null, rabbit: null };

async function teardown(): Promise<void> {
  current?.killAll();
  await Promise.allSettled([infra.postgres?.stop('immediate'), infra.rabbit?.stop()]);
  if (!process.env.FAULTS_KEEP) rmSync(baseDir, { recursive: true, force: true });
}

// A stray rejection in a scenario's background work must not take the
// suite (and its cleanup) down; the scenario's own checks report the damage.
process.on('unhandledRejection', (reason) => {
  process.stderr.write(`unhandled rejection: ${reason instanceof Error ? reason.message : String(reason)}\n`);
});

// A crash of the suite itself must still stop its PostgreSQL and RabbitMQ.
process.on('uncaughtException', (error) => {
  process.stderr.write(`fault suite crashed: ${error.stack ?? String(error)}\n`);
  void teardown().finally(() => process.exit(1));
});

let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    process.stderr.write(`\n${signal}: stopping the services and the suite's PostgreSQL and RabbitMQ\n`);
    void teardown().finally(() => process.exit(130));
  });
}

let exitCode = 1;
try {
  process.stderr.write(`fault suite: logs in ${logRoot}\nstarting a private PostgreSQL and RabbitMQ under ${baseDir}\n`);
  const [postgres, rabbit] = await Promise.all([PrivatePostgres.create(baseDir), PrivateRabbit.create(baseDir)]);
  infra = { postgres, rabbit };
  process.stderr.write(`PostgreSQL on 127.0.0.1:${postgres.port}, RabbitMQ ${rabbit.nodeName} on 127.0.0.1:${rabbit.port}\n`);

  const results: ScenarioResult[] = [];
  for (const scenario of selected) {
    const result = await runScenario(scenario, {
      repoRoot,
      logRoot,
      infra: { postgres, rabbit },
      onSupervisor: (supervisor) => (current = supervisor),
    });
    results.push(result);
    process.stderr.write(`[${scenario.id}] ${passed(result) ? 'PASS' : 'FAIL'}\n`);
  }

  const report = formatReport(results, Date.now() - started);
  process.stdout.write(`\n${report}\n`);
  writeFileSync(join(logRoot, 'table.txt'), `${report}\n`);
  writeFileSync(join(repoRoot, '.run', 'faults', 'last-table.txt'), `${report}\n`);
  exitCode = results.every(passed) ? 0 : 1;
} catch (error) {
  process.stderr.write(`fault suite failed to run: ${error instanceof Error ? error.stack : String(error)}\n`);
} finally {
  await teardown();
}
process.exit(exitCode);

function selectScenarios(args: string[]) {
  if (args.length === 0) return scenarios;
  const chosen = scenarios.filter((s) => args.some((a) => s.id === a || Number(s.id.slice(0, 2)) === Number(a)));
  if (chosen.length === 0) {
    process.stderr.write(`no scenario matches ${args.join(' ')}; known: ${scenarios.map((s) => s.id).join(', ')}\n`);
    process.exit(2);
  }
  return chosen;
}
