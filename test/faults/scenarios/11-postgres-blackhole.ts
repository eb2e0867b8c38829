import { setTimeout as delay } from 'node:timers/promises';
import { HealthSampler, ReadinessProbe } from '../lib/health.js';
import { cancelTask, submitLoad } from '../lib/load.js';
import { describeWindow, expectReadyAgain, judgeOutageHealth } from '../lib/outage.js';
import type { Scenario } from '../lib/scenario.js';

const HOLE_MS = 20_000;
/** Time after the hole lifts that the services get to answer creates OK again. */
const RECOVERY_MS = 5_000;
/** How soon into the hole readiness and GET /health must say so (task-api's database probe gives up after 2 s). */
const HEALTH_NOTICE_MS = 5_000;

/**
 * PostgreSQL blackholed for 20 s under load: the services reach it through
 * the suite's proxy, which stops forwarding without closing anything (no
 * FIN, no RST, new connections get silence), as a broken network does.
 * Every request must still get an answer before its deadline — UNAVAILABLE
 * / 503 while the database is unreachable, never 500 and never a wait into
 * the deadline (the table's 500s and past-deadline) — readiness and
 * GET /health must say the outage within 5 s, creates must succeed again
 * within 5 s of the hole lifting, and afterwards nothing may be lost or stuck.
 * Every tenth acknowledged task is canceled a moment later, so cancels meet
 * the hole too.
 */
export const postgresBlackhole: Scenario = {
  id: '11-postgres-blackhole',
  title: 'PostgreSQL blackholed for 20 s under load (nothing answers, nothing closes)',
  network: 'proxied',
  async run(ctx) {
    const { system } = ctx;
    const proxy = ctx.proxies!.postgres;
    await system.startAll(2);
    ctx.drainTimeoutMs = 60_000;
    const probe = new ReadinessProbe(system.taskApiUrl);
    const sampler = new HealthSampler(probe, system.clients.rest ? system.gatewayUrl : null);
    const stopLoad = new AbortController();
    const cancels: Promise<unknown>[] = [];
    let acknowledged = 0;
    const load = submitLoad(system.clients, ctx.record, ctx.topology.taskQueue, {
      count: 10_000,
      concurrency: 16,
      ratePerSecond: 30,
      signal: stopLoad.signal,
      onAcknowledged: (taskId) => {
        if (acknowledged++ % 10 === 0) cancels.push(delay(200).then(() => cancelTask(system.clients, ctx.record, taskId, acknowledged % 20 === 1 ? 'grpc' : 'rest')));
      },
    });
    await delay(3_000);
    ctx.log(`blackholing PostgreSQL (${proxy.connections} connections open through the proxy)`);
    const down = Date.now();
    proxy.hold();
    await delay(HOLE_MS);
    const up = Date.now();
    proxy.release();
    ctx.log('PostgreSQL reachable again');
    await delay(RECOVERY_MS + 5_000);
    stopLoad.abort();
    await load;
    await Promise.all(cancels);
    await sampler.stop();

    const during = describeWindow(ctx.record.submissions, down, up);
    ctx.note(`during the ${HOLE_MS / 1000} s hole: ${during.line}`);
    if (!during.sent.some((s) => s.answer.unavailable)) ctx.fail('no create was answered UNAVAILABLE/503 during the hole: the outage was not exercised');
    const after = ctx.record.submissions.filter((s) => s.sentAt >= up + RECOVERY_MS);
    const refusedAfter = after.filter((s) => !s.answer.ok);
    ctx.note(`${after.length} creates sent from ${RECOVERY_MS / 1000} s after the hole lifted, ${refusedAfter.length} not OK`);
    if (after.length === 0) ctx.fail('no create was sent after the recovery time');
    if (refusedAfter.length > 0) ctx.fail(`${refusedAfter.length} create(s) refused ${RECOVERY_MS / 1000} s or more after PostgreSQL came back: ${[...new Set(refusedAfter.map((s) => s.answer.answer))].join(', ')}`);

    judgeOutageHealth(ctx, sampler, { down, up, noticeMs: HEALTH_NOTICE_MS });
    await expectReadyAgain(ctx, probe, up);
  },
};
