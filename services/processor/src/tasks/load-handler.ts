import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError } from '@taskproc/core';
import type { TaskHandler } from '@taskproc/handler';

/**
 * Imports the handler module that TASK_HANDLER names and returns its default
 * export. A path (absolute, or starting with `.` or ending in a script
 * extension) is taken relative to the working directory; anything else is a
 * package name, resolved like any import of the processor. A module that
 * cannot be imported, or whose default export is not a function, is a
 * configuration error naming TASK_HANDLER (the process exits as for other
 * configuration errors, before it takes any task).
 */
export async function loadHandler(spec: string, cwd: string = process.cwd()): Promise<TaskHandler> {
  const target = looksLikePath(spec) ? pathToFileURL(isAbsolute(spec) ? spec : resolve(cwd, spec)).href : spec;
  let module: { default?: unknown };
  try {
    module = (await import(target)) as { default?: unknown };
  } catch (error) {
    throw new ConfigError([`TASK_HANDLER ${JSON.stringify(spec)} cannot be loaded: ${describe(error)}`]);
  }
  if (typeof module.default !== 'function') {
    throw new ConfigError([
      `TASK_HANDLER ${JSON.stringify(spec)} has no default export that is a function (export default defineHandler(async (task, context) => { ... }))`,
    ]);
  }
  return module.default as TaskHandler;
}

function looksLikePath(spec: string): boolean {
  return isAbsolute(spec) || spec.startsWith('.') || /\.(?:[cm]?js|[cm]?ts)$/.test(spec);
}

/** The first line of the import error (not its stack): what is missing or does not parse. */
function describe(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0]!.slice(0, 500);
}
