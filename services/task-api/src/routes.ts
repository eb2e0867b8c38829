import type { ConnectRouter } from '@connectrpc/connect';
import { TaskService, file_taskproc_v1_task, health, reflection } from '@taskproc/contract';
import { createHealthService } from './grpc-health.js';
import { createReflectionService } from './grpc-reflection.js';
import { createTaskService, type TaskServiceDeps } from './task-service.js';

/**
 * Every service this server answers, on one router: the TaskService, and the
 * standard health and reflection services that stock tools (grpcurl, buf curl,
 * Kubernetes and Envoy health checks) expect. The health service reports
 * readiness (`probeReadiness`, see readiness.ts; the database probe alone
 * when none is given).
 */
export function createRoutes(deps: TaskServiceDeps, probeReadiness: () => Promise<boolean> = deps.probeDatabase): (router: ConnectRouter) => void {
  return (router) => {
    router.service(TaskService, createTaskService(deps));
    router.service(health.Health, createHealthService({ probe: probeReadiness, services: [TaskService.typeName] }));
    router.service(
      reflection.ServerReflection,
      createReflectionService([file_taskproc_v1_task, health.file_grpc_health_v1_health]),
    );
  };
}
