import { createHash } from 'node:crypto';
import { checkpoint, defineHandler } from '@taskproc/handler';

/**
 * Real, CPU-bound work: stretches the task's content into a digest by
 * hashing it ROUNDS times with SHA-256 (key stretching, as a password hash
 * does), and logs the digest. The rounds run in chunks with a checkpoint
 * between them, so a cancel, a timeout or a shutdown stops the work within
 * a chunk (about a millisecond) instead of blocking the event loop.
 *
 *   TASK_HANDLER=examples/handlers/hash-content.ts make start
 */
export const ROUNDS = 200_000;
const CHUNK = 2_000;

/** The digest the handler computes for `content` (exported for its test). */
export async function stretch(content: string, rounds: number, signal: AbortSignal): Promise<string> {
  let digest = createHash('sha256').update(content, 'utf8').digest();
  for (let done = 0; done < rounds; done += CHUNK) {
    for (let i = done; i < Math.min(rounds, done + CHUNK); i++) digest = createHash('sha256').update(digest).digest();
    await checkpoint(signal);
  }
  return digest.toString('hex');
}

export default defineHandler(async (task, { signal, logger }) => {
  const startedAt = performance.now();
  const digest = await stretch(task.content, ROUNDS, signal);
  logger.info({ digest, rounds: ROUNDS, ms: Math.round(performance.now() - startedAt) }, 'content hashed');
});
