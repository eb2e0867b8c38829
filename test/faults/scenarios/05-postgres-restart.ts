import { submitLoad } from '../lib/load.js';
import type { Scenario } from '../lib/scenario.js';
import { waitFor } from '../../support/wait-for.js';

/** Creates answered before the fault: the load is under way. */
const ANSWERED_BEFORE_FAULT = 100;
/** Creates sent during the outage and answered UNAVAILABLE before PostgreSQL comes back. */
// About two seconds of the load: long enough an outage for every kind of request to meet it.
const UNAVAILABLE_DURING_OUTAGE = 80;

/**
 * PostgreSQL crashes (`pg_ctl stop -m immediate`) once the load is under way
 * and comes back (crash recovery) once clients have met the outage. While it
 * is down clients must get UNAVAILABLE / 503, never INTERNAL / 500 (the
 * runner fails any 500 to a valid request), health must say 503, and no
 * create answered OK may be missing afterwards (the checker's "lost").
 */
export const postgresRestart: Scenario = {
  id: '05-postgres-restart',
  title: 'PostgreSQL restarted during the load',
  async run(ctx) {
    const { system, infra } = ctx;
    await system.startAll(2);
    ctx.drainTimeoutMs = 60_000;
    const load = submitLoad(system.clients, ctx.record, ctx.topology.taskQueue, { count: 500, concurrency: 16, ratePerSecond: 40 });
    await waitFor(() => ctx.record.submissions.filter((s) => s.answer.ok).length, (n) => n >= ANSWERED_BEFORE_FAULT, {
      timeoutMs: 60_000,
      description: `${ANSWERED_BEFORE_FAULT} creates answered before the fault`,
    });
    ctx.log('pg_ctl stop -m immediate');
    const down = Date.now();
    await infra.postgres.stop('immediate');
    try {
      if (system.clients.rest) {
        const status = () => fetch(`${system.gatewayUrl}/health`, { signal: AbortSignal.timeout(10_000) }).then((r) => r.status, () => 0);
        const health = await waitFor(status, (s) => s === 503, { timeoutMs: 15_000, description: 'GET /health 503 while PostgreSQL is down' }).catch(
          (error: Error) => {
            ctx.fail(error.message);
            return null;
          },
        );
        if (health !== null) ctx.note(`GET /health while PostgreSQL was down: ${health} after ${Date.now() - down} ms`);
      }
      const unavailableSinceDown = () => ctx.record.submissions.filter((s) => s.sentAt >= down && s.answer.unavailable).length;
      await waitFor(unavailableSinceDown, (n) => n >= UNAVAILABLE_DURING_OUTAGE, {
        timeoutMs: 30_000,
        description: `${UNAVAILABLE_DURING_OUTAGE} creates answered UNAVAILABLE/503 during the outage`,
      }).catch((error: Error) => ctx.fail(error.message));
    } finally {
      ctx.log('pg_ctl start');
      await infra.postgres.start();
    }
    const up = Date.now();
    await load;
    const during = ctx.record.submissions.filter((s) => s.sentAt >= down && s.sentAt <= up);
    const unavailable = during.filter((s) => s.answer.unavailable).length;
    ctx.note(`${during.length} creates sent while PostgreSQL was down (${((up - down) / 1000).toFixed(1)} s): ${unavailable} UNAVAILABLE/503, ${during.filter((s) => s.answer.ok).length} OK`);
    if (unavailable === 0) ctx.fail('no create was answered UNAVAILABLE/503 during the outage: the outage was not exercised');
  },
};
