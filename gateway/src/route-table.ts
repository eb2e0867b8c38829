import { matchPathTemplate, specificity } from './path-template.js';
import type { RestRoute } from './http-rules.js';

export interface RouteMatch {
  /** Unary methods answer one body; server-streaming ones an event stream (docs/watching.md). */
  route: RestRoute & { method: { methodKind: 'unary' | 'server_streaming' } };
  /** Path variables as [field path, value]. */
  pathBindings: [string, string][];
}

/** Finds the route for a method and path (no query string); most literal segments first. */
export class RouteTable {
  private readonly routes: RestRoute[];

  constructor(routes: readonly RestRoute[]) {
    this.routes = [...routes].sort((a, b) => specificity(b.template) - specificity(a.template));
  }

  match(httpMethod: string, path: string): RouteMatch | undefined {
    for (const route of this.routes) {
      const { methodKind } = route.method;
      if (route.httpMethod !== httpMethod || (methodKind !== 'unary' && methodKind !== 'server_streaming')) continue;
      const pathBindings = matchPathTemplate(route.template, path);
      if (pathBindings) return { route: route as RouteMatch['route'], pathBindings };
    }
    return undefined;
  }
}

/** Query parameters as [name, value], percent-decoded; "+" stays "+" (query_param_unescape_plus is off). */
export function parseQuery(query: string): [string, string][] | undefined {
  const pairs: [string, string][] = [];
  for (const part of query.split('&')) {
    if (part === '') continue;
    const at = part.indexOf('=');
    try {
      pairs.push(at < 0 ? [decodeURIComponent(part), ''] : [decodeURIComponent(part.slice(0, at)), decodeURIComponent(part.slice(at + 1))]);
    } catch {
      return undefined;
    }
  }
  return pairs;
}
