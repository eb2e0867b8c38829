import { setTimeout as delay } from 'node:timers/promises';
import { submitLoad } from '../lib/load.js';
import type { Scenario } from '../lib/scenario.js';

const OUTAGE_MS = 4_000;

/**
 * PostgreSQL crashes (`pg_ctl stop -m immediate`) three seconds into the
 * load and comes back four seconds later (crash recovery). While it is down
 * clients must get UNAVAILABLE / 503, never INTERNAL / 500 (the runner fails
 * any 500 to a valid request), health must say 503, and no create answered
 * OK may be missing afterwards (the checker's "lost").
 */
export const postgresRestart: Scenario = {
  id: '05-postgres-restart',
  title: 'PostgreSQL restarted during the load',
  async run(ctx) {
    const { system, infra } = ctx;
    await system.startAll(2);
    ctx.drainTimeoutMs = 60_000;
    const load = submitLoad(system.clients, ctx.record, ctx.topology.taskQueue, { count: 500, concurrency: 16, ratePerSecond: 40 });
    await delay(3_000);
    ctx.log('pg_ctl stop -m immediate');
    const down = Date.now();
    await infra.postgres.stop('immediate');
    await delay(1_000);
    if (system.clients.rest) {
      const health = await fetch(`${system.gatewayUrl}/health`).then((r) => r.status, () => 0);
      ctx.note(`GET /health while PostgreSQL was down: ${health}`);
      if (health !== 503) ctx.fail(`GET /health answered ${health} while PostgreSQL was down, expected 503`);
    }
    await delay(OUTAGE_MS - 1_000);
    ctx.log('pg_ctl start');
    await infra.postgres.start();
    const up = Date.now();
    await load;
    const during = ctx.record.submissions.filter((s) => s.sentAt >= down && s.sentAt <= up);
    const unavailable = during.filter((s) => s.answer.unavailable).length;
    ctx.note(`${during.length} creates sent while PostgreSQL was down (${((up - down) / 1000).toFixed(1)} s): ${unavailable} UNAVAILABLE/503, ${during.filter((s) => s.answer.ok).length} OK`);
    if (unavailable === 0) ctx.fail('no create was answered UNAVAILABLE/503 during the outage: the outage was not exercised');
  },
};
