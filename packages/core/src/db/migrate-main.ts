import { EnvReader } from '../config/env.js';
import { LOG_LEVELS } from '../config/shared.js';
import { createLogger } from '../logging.js';
import { createDatabaseIfMissing, migrateDatabase } from './database-admin.js';

// The migrate step (`make migrate`, the compose "migrate" service): creates
// the database when it does not exist yet, then applies pending migrations.
// Services never change the schema at run time.

const env = new EnvReader(process.env);
const settings = env.done({
  databaseUrl: env.url('DATABASE_URL', ['postgres:', 'postgresql:']),
  logLevel: env.oneOf('LOG_LEVEL', LOG_LEVELS, 'info'),
});
const logger = createLogger('migrate', settings.logLevel);

if (await createDatabaseIfMissing(settings.databaseUrl)) {
  logger.info({ database: new URL(settings.databaseUrl).pathname.slice(1) }, 'database created');
}
const applied = await migrateDatabase(settings.databaseUrl);
logger.info({ applied }, applied.length > 0 ? 'migrations applied' : 'schema is up to date');
