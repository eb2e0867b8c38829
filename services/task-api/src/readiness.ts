import type { Logger } from '@taskproc/core';
import type { RelayHealth } from './outbox-relay.js';

/**
 * Readiness as grpc.health.v1 reports it: the database answers AND the
 * outbox relay can publish. Creates still succeed while the relay cannot
 * publish (the outbox is durable), but no task moves until it can, so a
 * deployment waiting on readiness (compose, `make start`, a load balancer)
 * must not count this process as ready. REST `/health` (CheckHealth) keeps
 * its narrower promise: the database answers.
 *
 * Each change of readiness is logged once, with the reason.
 */
export function createReadinessProbe(
  probeDatabase: () => Promise<boolean>,
  relayHealth: () => RelayHealth,
  logger: Logger,
): () => Promise<boolean> {
  let lastReason: string | null | undefined;
  return async () => {
    const relay = relayHealth();
    const databaseUp = await probeDatabase();
    const reason = !databaseUp ? 'the database is unreachable' : relay.publishing ? null : `the outbox relay cannot publish: ${relay.reason ?? 'unknown'}`;
    if (reason !== lastReason) {
      if (reason === null) logger.info('ready: SERVING');
      else logger.warn({ reason }, 'not ready: NOT_SERVING');
      lastReason = reason;
    }
    return reason === null;
  };
}
