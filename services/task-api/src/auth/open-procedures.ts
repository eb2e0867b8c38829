import type { DescMethod, DescService } from '@bufbuild/protobuf';
import { TaskService, health, reflection } from '@taskproc/contract';

/**
 * What anyone may call without a token, and outside every tenant's limits:
 * the standard health and reflection services (probes, load balancers,
 * grpcurl) and CheckHealth (REST `GET /health`). Everything else needs one,
 * including any service or method added later.
 */
const OPEN_SERVICES: ReadonlySet<string> = new Set([health.Health.typeName, reflection.ServerReflection.typeName]);
const OPEN_METHODS: ReadonlySet<string> = new Set([procedureOf(TaskService, TaskService.method.checkHealth)]);

export function isOpenProcedure(request: { service: DescService; method: DescMethod }): boolean {
  return OPEN_SERVICES.has(request.service.typeName) || OPEN_METHODS.has(procedureOf(request.service, request.method));
}

function procedureOf(service: DescService, method: DescMethod): string {
  return `${service.typeName}/${method.name}`;
}
