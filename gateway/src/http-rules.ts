import { getOption, hasOption, type DescFile, type DescMessage, type DescMethod, type DescService } from '@bufbuild/protobuf';
import { http, type HttpRule } from '@taskproc/contract';
import { parsePathTemplate, type PathTemplate } from './path-template.js';

// The REST routes, read from the google.api.http annotations in the
// descriptors: no route is written by hand. A method added to proto/ with an
// annotation becomes a route with no change here.

export interface RestRoute {
  /** GET, POST, PATCH, PUT, DELETE, or a custom kind. */
  httpMethod: string;
  template: PathTemplate;
  /** "" (no body rule), "*" (the whole request message) or a field path. */
  body: string;
  /** As annotated; see envoyIncompatibilities(). */
  responseBody: string;
  method: DescMethod;
}

/** Services of these files that have at least one REST route, in file order. */
export function annotatedServices(files: Iterable<DescFile>): DescService[] {
  return [...files].flatMap((file) => file.services).filter((service) => service.methods.some((method) => hasOption(method, http)));
}

/** Every route of every annotated method, additional_bindings included. */
export function readRestRoutes(services: Iterable<DescService>): RestRoute[] {
  const routes: RestRoute[] = [];
  for (const service of services) {
    for (const method of service.methods) {
      if (!hasOption(method, http)) continue;
      const rule = getOption(method, http);
      for (const binding of [rule, ...rule.additionalBindings]) routes.push(toRoute(method, binding));
    }
  }
  return routes;
}

function toRoute(method: DescMethod, rule: HttpRule): RestRoute {
  const { pattern } = rule;
  let httpMethod: string;
  let path: string;
  switch (pattern.case) {
    case 'get':
    case 'put':
    case 'post':
    case 'delete':
    case 'patch':
      httpMethod = pattern.case.toUpperCase();
      path = pattern.value;
      break;
    case 'custom':
      httpMethod = pattern.value.kind;
      path = pattern.value.path;
      break;
    default:
      throw new Error(`${method.parent.typeName}.${method.name}: google.api.http rule without a pattern`);
  }
  return { httpMethod, template: parsePathTemplate(path), body: rule.body, responseBody: rule.responseBody, method };
}

/**
 * Why Envoy's gRPC-JSON transcoder would refuse this route at start-up, or
 * what the embedded gateway cannot serve like Envoy does. Empty when fine.
 */
export function envoyIncompatibilities(route: RestRoute): string[] {
  const name = `${route.method.parent.typeName}.${route.method.name}`;
  const problems: string[] = [];
  if (route.body !== '' && route.body !== '*' && !resolveFieldPath(route.method.input, route.body)) {
    problems.push(`${name}: body "${route.body}" is not a field of ${route.method.input.typeName}`);
  }
  if (route.responseBody !== '') {
    const field = resolveFieldPath(route.method.output, route.responseBody);
    if (field?.message?.typeName !== 'google.api.HttpBody') {
      // Envoy: 'Setting "response_body" is not supported yet for non-HttpBody fields' (envoyproxy/envoy#11136).
      problems.push(`${name}: response_body "${route.responseBody}" is not a google.api.HttpBody field; Envoy refuses such rules at start-up`);
    }
  }
  for (const variable of route.template.variables) {
    if (!resolveFieldPath(route.method.input, variable.fieldPath)) {
      problems.push(`${name}: path variable {${variable.fieldPath}} is not a field of ${route.method.input.typeName}`);
    }
  }
  return problems;
}

/** The field a dotted path names (by proto or JSON name), through singular message fields. */
export function resolveFieldPath(message: DescMessage, path: string): DescMessage['fields'][number] | undefined {
  let current: DescMessage | undefined = message;
  let field: DescMessage['fields'][number] | undefined;
  for (const name of path.split('.')) {
    if (!current) return undefined;
    field = current.fields.find((candidate) => candidate.name === name || candidate.jsonName === name);
    if (!field) return undefined;
    current = field.fieldKind === 'message' ? field.message : undefined;
  }
  return field;
}
