import { percentile } from './checker.js';
import type { HealthSampler, ReadinessProbe } from './health.js';
import type { Submission } from './load.js';
import type { ScenarioContext } from './scenario.js';

/** How the creates sent during a window of time were answered, for a note. */
export function describeWindow(submissions: Submission[], from: number, to: number): { line: string; sent: Submission[] } {
  const sent = submissions.filter((s) => s.sentAt >= from && s.sentAt < to);
  const kinds = new Map<string, number>();
  for (const s of sent) kinds.set(s.answer.answer, (kinds.get(s.answer.answer) ?? 0) + 1);
  const failedMs = sent.filter((s) => !s.answer.ok).map((s) => s.answeredAt - s.sentAt);
  const timing = failedMs.length > 0 ? `; refusals answered in p50 ${percentile(failedMs, 50)} ms, max ${Math.max(...failedMs)} ms` : '';
  const answers = [...kinds].map(([k, n]) => `${n} ${k}`).join(', ') || 'none';
  return { line: `${sent.length} creates sent (${answers})${timing}`, sent };
}

/**
 * While a dependency is down, from `noticeMs` into the outage on, readiness
 * must say NOT_SERVING and GET /health 503, each answering promptly.
 */
export function judgeOutageHealth(ctx: ScenarioContext, sampler: HealthSampler, window: { down: number; up: number; noticeMs: number }): void {
  const { down, up, noticeMs } = window;
  const inHole = sampler.between(down + noticeMs, up);
  const notReady = inHole.filter((s) => s.readiness.status !== 'NOT_SERVING');
  const restNot503 = inHole.filter((s) => s.rest && s.rest.status !== 503);
  const slowest = Math.max(0, ...sampler.between(down, up).flatMap((s) => [s.readiness.ms, s.rest?.ms ?? 0]));
  ctx.note(
    `health from ${noticeMs / 1000} s into the outage: readiness NOT_SERVING in ${inHole.length - notReady.length}/${inHole.length} checks, ` +
      `GET /health 503 in ${inHole.length - restNot503.length}/${inHole.length}; slowest health answer during the outage ${slowest} ms`,
  );
  if (inHole.length === 0) ctx.fail('no health sample was taken during the outage');
  if (notReady.length > 0) ctx.fail(`readiness said ${[...new Set(notReady.map((s) => s.readiness.status))].join(', ')} during the outage (expected NOT_SERVING)`);
  if (restNot503.length > 0) ctx.fail(`GET /health answered ${[...new Set(restNot503.map((s) => s.rest!.status))].join(', ')} during the outage (expected 503)`);
}

/** After an outage readiness must come back to SERVING on its own within `timeoutMs`. */
export async function expectReadyAgain(ctx: ScenarioContext, probe: ReadinessProbe, up: number, timeoutMs = 30_000): Promise<void> {
  const back = await probe.waitFor('SERVING', timeoutMs);
  if (back.reached) ctx.note(`readiness SERVING again ${((Date.now() - up) / 1000).toFixed(1)} s after the outage ended`);
  else ctx.fail(`readiness still ${back.status} ${((Date.now() - up) / 1000).toFixed(0)} s after the outage ended`);
}
