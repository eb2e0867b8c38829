import pg from 'pg';
import { migrateUp } from './migrate.js';
import { openOrm } from './orm.js';

// Creating, migrating and dropping whole databases: the migrate step, and the
// tests, fault suite and benchmark that each work in a database of their own.
// Statements about a database run on the server's `postgres` database.

/** `databaseUrl` with its database name replaced. */
export function databaseUrlFor(databaseUrl: string, name: string): string {
  const url = new URL(databaseUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

function databaseName(databaseUrl: string): string {
  return decodeURIComponent(new URL(databaseUrl).pathname.slice(1));
}

function quoted(name: string): string {
  return `"${name.replace(/"/g, '""')}"`;
}

async function withAdminClient<T>(databaseUrl: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: databaseUrlFor(databaseUrl, 'postgres') });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** Creates the database `databaseUrl` names; returns false when it already existed. */
export async function createDatabaseIfMissing(databaseUrl: string): Promise<boolean> {
  const name = databaseName(databaseUrl);
  return withAdminClient(databaseUrl, async (client) => {
    const { rowCount } = await client.query('select 1 from pg_database where datname = $1', [name]);
    if (rowCount !== 0) return false;
    await client.query(`create database ${quoted(name)}`);
    return true;
  });
}

/** Drops the database `databaseUrl` names, ending any session still connected to it. */
export async function dropDatabase(databaseUrl: string): Promise<void> {
  await withAdminClient(databaseUrl, (client) => client.query(`drop database if exists ${quoted(databaseName(databaseUrl))} with (force)`));
}

/** Applies every pending migration to the database `databaseUrl` names; returns the names applied. */
export async function migrateDatabase(databaseUrl: string): Promise<string[]> {
  const orm = await openOrm({ databaseUrl, poolSize: 1 });
  try {
    return await migrateUp(orm);
  } finally {
    await orm.close();
  }
}
