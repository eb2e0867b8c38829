// Node.js entry: "@taskproc/client". Browsers use "@taskproc/client/web".
export * from './shared.js';
export { createTaskClient, type TaskClientOptions } from './node.js';
