import { MikroORM, type Options } from '@mikro-orm/postgresql';
import { Migrator } from '@mikro-orm/migrations';
import { TaskSchema } from './task.entity.js';
import { OutboxEntrySchema } from './outbox-entry.entity.js';
import { migrations } from './migrations/index.js';
import { boundedConnection, type DatabaseTimeouts } from './bounded-connection.js';
import type { Logger } from '../logging.js';

export type { DatabaseTimeouts } from './bounded-connection.js';

export interface OrmSettings {
  databaseUrl: string;
  poolSize: number;
  /**
   * Bounds on every wait on the database (see DatabaseTimeouts). Services
   * always pass them; the migrate step and test fixtures may leave them out
   * (a migration may rightly run longer than a request's statement).
   */
  timeouts?: DatabaseTimeouts;
  /** Receives the query builder's own warnings (e.g. a dropped connection), which would otherwise go to the console. */
  logger?: Logger;
}

/** What a pool gets when its owner names no bounds: connect and acquire bounded, statements not. */
const UNBOUNDED_STATEMENTS: DatabaseTimeouts = { connectMs: 3_000, acquireMs: 5_000, statementMs: 0, idleInTransactionMs: 0 };

export function ormOptions(settings: OrmSettings): Options {
  const timeouts = settings.timeouts ?? UNBOUNDED_STATEMENTS;
  const bounded = boundedConnection(timeouts);
  return {
    clientUrl: settings.databaseUrl,
    entities: [TaskSchema, OutboxEntrySchema],
    extensions: [Migrator],
    // Fail fast while the database is down: a client gets UNAVAILABLE in
    // seconds instead of waiting on an empty pool.
    pool: { min: 0, max: settings.poolSize, acquireTimeoutMillis: timeouts.acquireMs, afterCreate: bounded.afterCreate },
    driverOptions: {
      connection: bounded.connection,
      log: knexLog(settings.logger),
    },
    migrations: {
      tableName: 'mikro_orm_migrations',
      // Listed in code rather than discovered on disk, so the same list runs
      // under tsx in development and from compiled JavaScript in images.
      migrationsList: migrations,
      transactional: true,
      allOrNothing: true,
      snapshot: false,
      // The migrate command logs what it applied itself, as JSON.
      silent: true,
    },
    // Entities are declared with EntitySchema; nothing to discover.
    discovery: { warnWhenNoEntities: true },
    allowGlobalContext: false,
  };
}

function knexLog(logger: Logger | undefined) {
  const log = logger?.child({ component: 'database' });
  return {
    warn: (message: string) => log?.warn(message),
    error: (message: string) => log?.error(message),
    deprecate: (message: string) => log?.debug(message),
    debug: (message: string) => log?.debug(message),
  };
}

/** Opens the ORM without touching the database; connections are made on first use. */
export async function openOrm(settings: OrmSettings): Promise<MikroORM> {
  return MikroORM.init({ ...ormOptions(settings), connect: false });
}
