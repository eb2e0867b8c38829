import type { MikroORM } from '@mikro-orm/postgresql';
import { TaskChangeReader, TaskListing, type Logger } from '@taskproc/core';
import type { WatchingConfig } from '../config.js';
import type { ListHandlerDeps } from '../listing/list-handlers.js';
import { PageTokenCodec } from '../listing/page-token.js';
import type { WatchHandlerDeps } from './watch-handlers.js';
import { WatchHub, type WatchHubStats } from './watch-hub.js';

export interface Watching {
  listing: ListHandlerDeps;
  watch: WatchHandlerDeps;
  stats(): WatchHubStats;
  /** Ends every watch stream (UNAVAILABLE) and closes the listening connection. */
  close(): Promise<void>;
}

/** Listing, history and watching for one task-api process (docs/watching.md). */
export function startWatching(orm: MikroORM, settings: { databaseUrl: string; watching: WatchingConfig }, logger: Logger): Watching {
  const log = logger.child({ component: 'watching' });
  if (settings.watching.pageTokenSecret === null) {
    log.warn('PAGE_TOKEN_SECRET is not set: page tokens work on this process only, until it restarts');
  }
  const reader = new TaskChangeReader(orm);
  const hub = new WatchHub(
    reader,
    { databaseUrl: settings.databaseUrl, maxStreams: settings.watching.maxStreams, streamBufferMessages: settings.watching.streamBufferMessages },
    log,
  );
  hub.start();
  return {
    listing: { listing: new TaskListing(orm), pageTokens: new PageTokenCodec(settings.watching.pageTokenSecret) },
    watch: { hub, keepAliveMs: settings.watching.keepAliveMs, logger: log },
    stats: () => hub.stats(),
    close: () => hub.close(),
  };
}
