import pg from 'pg';
import { EnvReader } from '../config/env.js';
import { LOG_LEVELS } from '../config/shared.js';
import { createLogger } from '../logging.js';
import { migrateUp } from './migrate.js';
import { openOrm } from './orm.js';

// The migrate step (`make migrate`, the compose "migrate" service): creates
// the database when it does not exist yet, then applies pending migrations.
// Services never change the schema at run time.

const env = new EnvReader(process.env);
const settings = env.done({
  databaseUrl: env.url('DATABASE_URL', ['postgres:', 'postgresql:']),
  logLevel: env.oneOf('LOG_LEVEL', LOG_LEVELS, 'info'),
});
const logger = createLogger('migrate', settings.logLevel);

await ensureDatabaseExists(settings.databaseUrl);
const orm = await openOrm({ databaseUrl: settings.databaseUrl, poolSize: 1 });
try {
  const applied = await migrateUp(orm);
  logger.info({ applied }, applied.length > 0 ? 'migrations applied' : 'schema is up to date');
} finally {
  await orm.close();
}

async function ensureDatabaseExists(databaseUrl: string): Promise<void> {
  const target = new URL(databaseUrl);
  const name = decodeURIComponent(target.pathname.slice(1));
  const admin = new URL(databaseUrl);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [name]);
    if (rowCount === 0) {
      await client.query(`create database "${name.replace(/"/g, '""')}"`);
      logger.info({ database: name }, 'database created');
    }
  } finally {
    await client.end();
  }
}
