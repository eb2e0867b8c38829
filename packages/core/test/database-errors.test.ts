import { describe, expect, it } from 'vitest';
import { isDatabaseUnavailable } from '../src/db/database-errors.js';

describe('isDatabaseUnavailable', () => {
  it('treats a transaction knex ended after its connection broke as an outage', () => {
    // What MikroORM throws when PostgreSQL restarts under an open transaction
    // (seen by the fault suite's scenario 5).
    const cause = new Error('Transaction query already complete, run with DEBUG=knex:tx for more info');
    expect(isDatabaseUnavailable(new Error('DriverException', { cause }))).toBe(true);
  });

  it('does not treat a constraint violation as an outage', () => {
    expect(isDatabaseUnavailable(Object.assign(new Error('duplicate key value violates unique constraint'), { code: '23505' }))).toBe(false);
  });
});
