import type { MikroORM } from '@mikro-orm/postgresql';

/**
 * A cheap "can the database answer" check for health endpoints: never
 * throws, gives up after `timeoutMs` so a hung network does not hang probes.
 */
export function createDatabaseProbe(orm: MikroORM, timeoutMs = 2_000): () => Promise<boolean> {
  return async () => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), timeoutMs);
    });
    try {
      return await Promise.race([orm.isConnected(), timeout]);
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
    }
  };
}
