import type { MigrationObject } from '@mikro-orm/core';
import { Migration20261128135446 } from './Migration20261128135446.js';
import { Migration20261128140000_transitions } from './Migration20261128140000_transitions.js';
import { Migration20261128154000_stale_tasks } from './Migration20261128154000_stale_tasks.js';
import { Migration20261201090000_round2_contract } from './Migration20261201090000_round2_contract.js';
import { Migration20261201092000_failures } from './Migration20261201092000_failures.js';
import { Migration20261201093000_idempotency } from './Migration20261201093000_idempotency.js';
import { Migration20261201094000_trace_context } from './Migration20261201094000_trace_context.js';
import { Migration20261201100000_tenants } from './Migration20261201100000_tenants.js';

/** Every migration, oldest first. A new migration file is added here too. */
export const migrations: MigrationObject[] = [
  { name: 'Migration20261128135446', class: Migration20261128135446 },
  { name: 'Migration20261128140000_transitions', class: Migration20261128140000_transitions },
  { name: 'Migration20261128154000_stale_tasks', class: Migration20261128154000_stale_tasks },
  { name: 'Migration20261201090000_round2_contract', class: Migration20261201090000_round2_contract },
  { name: 'Migration20261201092000_failures', class: Migration20261201092000_failures },
  { name: 'Migration20261201093000_idempotency', class: Migration20261201093000_idempotency },
  { name: 'Migration20261201094000_trace_context', class: Migration20261201094000_trace_context },
  { name: 'Migration20261201100000_tenants', class: Migration20261201100000_tenants },
];
