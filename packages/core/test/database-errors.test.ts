import { describe, expect, it } from 'vitest';
import { isDatabaseUnavailable } from '../src/db/database-errors.js';

describe('isDatabaseUnavailable', () => {
  it('treats a transaction knex ended after its connection broke as an outage', () => {
    // What MikroORM throws when PostgreSQL restarts under an open transaction
    // (seen by the fault suite's scenario 5).
    const cause = new Error('Transaction query already complete, run with DEBUG=knex:tx for more info');
    expect(isDatabaseUnavailable(new Error('DriverException', { cause }))).toBe(true);
  });

  it.each([
    ['the pool acquire timeout', Object.assign(new Error('Knex: Timeout acquiring a connection. The pool is probably full.'), { name: 'KnexTimeoutError' })],
    ["node-postgres' connect timeout", new Error('timeout expired')],
    ["node-postgres' client query timeout", new Error('Query read timeout')],
    ['a statement canceled by statement_timeout', Object.assign(new Error('canceling statement due to statement timeout'), { code: '57014' })],
    ['a transaction ended by idle_in_transaction_session_timeout', Object.assign(new Error('terminating connection due to idle-in-transaction timeout'), { code: '25P03' })],
    ['a connection that ended', new Error('Connection ended unexpectedly')],
  ])('treats %s as an outage', (_name, error) => {
    expect(isDatabaseUnavailable(new Error('DriverException', { cause: error }))).toBe(true);
  });

  it('does not treat a constraint violation as an outage', () => {
    expect(isDatabaseUnavailable(Object.assign(new Error('duplicate key value violates unique constraint'), { code: '23505' }))).toBe(false);
  });
});
