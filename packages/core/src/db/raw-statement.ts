import type { MikroORM } from '@mikro-orm/postgresql';
import { translateDatabaseError } from './database-errors.js';

/**
 * One raw statement on a pooled connection of the ORM (autocommit: the
 * statement is its own transaction), for the stores whose hot-path reads and
 * guarded changes are single statements. Database outages surface as
 * UnavailableError, as everywhere in the stores.
 */
export async function executeRaw(orm: MikroORM, sql: string, params: unknown[]): Promise<Record<string, unknown>[]> {
  try {
    return await orm.em.fork().getConnection().execute<Record<string, unknown>[]>(sql, params, 'all');
  } catch (error) {
    throw translateDatabaseError(error);
  }
}
