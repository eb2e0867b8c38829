/** A module TASK_HANDLER may not name: it has no default export. */
export const handler = async (): Promise<void> => {};
