import type { ConnectRouter } from '@connectrpc/connect';
import { TaskService } from '@taskproc/contract';
import { createTaskService, type TaskServiceDeps } from './task-service.js';

/** Every service this server answers, on one router. */
export function createRoutes(deps: TaskServiceDeps): (router: ConnectRouter) => void {
  return (router) => {
    router.service(TaskService, createTaskService(deps));
  };
}
