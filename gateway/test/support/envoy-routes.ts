// A small model of Envoy's route matching, for the route kinds envoy.yaml
// uses (path, prefix, the grpc matcher, a content-type prefix header
// matcher); first match wins, as in Envoy.

export interface EnvoyRoute {
  name?: string;
  match: { path?: string; prefix?: string; safe_regex?: { regex: string }; grpc?: object; headers?: { name: string; string_match?: { prefix?: string } }[] };
  route?: { cluster?: string; timeout?: string; retry_policy?: { retry_on?: string } };
  direct_response?: { status: number };
  typed_per_filter_config?: Record<string, { '@type'?: string; disabled?: boolean } & Record<string, unknown>>;
}

export interface RoutedRequest {
  path: string;
  contentType: string;
}

/** Envoy's Grpc::Common::hasGrpcContentType. */
function isGrpc(contentType: string): boolean {
  return contentType === 'application/grpc' || contentType.startsWith('application/grpc+');
}

export function matchRoute(routes: readonly EnvoyRoute[], request: RoutedRequest): EnvoyRoute | undefined {
  const path = request.path.split('?')[0]!;
  return routes.find(({ match }) => {
    const known = new Set(Object.keys(match));
    for (const key of ['path', 'prefix', 'safe_regex', 'grpc', 'headers']) known.delete(key);
    if (known.size > 0) throw new Error(`route match ${JSON.stringify(match)} uses matchers this model does not know`);
    if (match.grpc && !isGrpc(request.contentType)) return false;
    for (const header of match.headers ?? []) {
      const prefix = header.string_match?.prefix;
      if (header.name !== 'content-type' || prefix === undefined || Object.keys(header.string_match ?? {}).length !== 1) {
        throw new Error(`header matcher ${JSON.stringify(header)} is not one this model knows`);
      }
      if (!request.contentType.startsWith(prefix)) return false;
    }
    if (match.path !== undefined) return path === match.path;
    if (match.prefix !== undefined) return path.startsWith(match.prefix);
    // RE2 matches the whole path; the patterns used are plain enough for JS.
    if (match.safe_regex !== undefined) return new RegExp(match.safe_regex.regex).test(path);
    return false;
  });
}
