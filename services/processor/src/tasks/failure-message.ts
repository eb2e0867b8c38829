/** Longest error message stored on a task; longer ones are cut, with an ellipsis. */
export const MAX_ERROR_LENGTH = 1_000;

/**
 * What a failed attempt leaves on the task for clients: the error's message
 * only, never its stack (which goes to the log), bounded in length. A thrown
 * non-Error becomes its string form; an empty message is named by the
 * error's name.
 */
export function failureMessage(error: unknown): string {
  let message: string;
  if (error instanceof Error) message = error.message.trim() || `${error.name} without a message`;
  else if (typeof error === 'string') message = error.trim() || 'the handler failed without a message';
  else message = `the handler threw a non-error value: ${safeString(error)}`;
  // NUL cannot be stored in a PostgreSQL text column.
  message = message.replaceAll('\u0000', '');
  if (message.length <= MAX_ERROR_LENGTH) return message;
  // By code points, so a surrogate pair is never cut in half. 2 * (MAX + 1)
  // code units always hold more than MAX code points, so a shorter message
  // is counted whole.
  const points = [...message.slice(0, 2 * (MAX_ERROR_LENGTH + 1))];
  return points.length > MAX_ERROR_LENGTH ? `${points.slice(0, MAX_ERROR_LENGTH - 1).join('')}…` : message;
}

function safeString(value: unknown): string {
  try {
    return typeof value === 'object' ? JSON.stringify(value) ?? String(value) : String(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}
