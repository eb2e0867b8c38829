import type pg from 'pg';

// A silently lost server (a black-holed network) never answers a client's
// end() either: a LISTEN client ends within a bound and cuts the socket when
// it passes, so neither a reconnect nor a shutdown is held by it.

/** Ends a client, cutting its socket when the server does not answer within `ms`. */
export async function endWithin(client: pg.Client, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), ms)));
  const outcome = await Promise.race([client.end().then(() => 'ended', () => 'ended'), late]);
  clearTimeout(timer);
  if (outcome === 'late') destroySocket(client);
}

/** Drops the client's connection at once; its 'end' (or 'error') event follows. */
export function destroySocket(client: pg.Client): void {
  (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
}
