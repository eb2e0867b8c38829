import { createHash } from 'node:crypto';
import { defineHandler, sleep } from '@taskproc/handler';

/**
 * The failing drain's work (bench/scenarios/failing-drain.ts): content
 * `bench failing work=<ms> fail=<percent> <n>` works <ms>, then fails the
 * attempt for <percent> of (task, attempt) pairs, picked by a hash so every
 * run fails the same attempts. Other content works 0 ms and succeeds.
 */
const SHAPE = /work=(\d+) fail=(\d+)/;

export default defineHandler(async (task, { signal, attempt }) => {
  const shape = SHAPE.exec(task.content);
  if (!shape) return;
  await sleep(Number(shape[1]), signal);
  const draw = createHash('sha1').update(`${task.id}/${attempt}`).digest().readUInt16BE(0) % 100;
  if (draw < Number(shape[2])) throw new Error(`failed on purpose (draw ${draw} < ${shape[2]})`);
});
