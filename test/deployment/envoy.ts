import type { Json } from './compose.js';

// What docker-compose.yml must agree with in an Envoy bootstrap config.

export interface SocketAddress {
  address: string;
  port: number;
}

type JsonMap = { [key: string]: Json };

function isMap(value: Json | undefined): value is JsonMap {
  return value !== null && value !== undefined && typeof value === 'object' && !Array.isArray(value);
}

/** Every value stored under `key`, at any depth. */
export function valuesOfKey(node: Json, key: string): Json[] {
  const found: Json[] = [];
  const visit = (value: Json): void => {
    if (Array.isArray(value)) value.forEach(visit);
    else if (isMap(value)) {
      for (const [name, child] of Object.entries(value)) {
        if (name === key) found.push(child);
        visit(child);
      }
    }
  };
  visit(node);
  return found;
}

/** Every string value, at any depth. */
export function strings(node: Json): string[] {
  if (typeof node === 'string') return [node];
  if (Array.isArray(node)) return node.flatMap(strings);
  if (isMap(node)) return Object.values(node).flatMap(strings);
  return [];
}

function socketAddresses(node: Json): SocketAddress[] {
  return valuesOfKey(node, 'socket_address')
    .filter(isMap)
    .map((socket) => ({ address: String(socket.address), port: Number(socket.port_value) }));
}

function list(node: Json | undefined): Json[] {
  return Array.isArray(node) ? node : [];
}

export function adminAddress(config: Json): SocketAddress | undefined {
  return isMap(config) && isMap(config.admin) ? socketAddresses(config.admin.address ?? null)[0] : undefined;
}

export function listenerAddresses(config: Json): SocketAddress[] {
  const resources = isMap(config) ? config.static_resources : undefined;
  return list(isMap(resources) ? resources.listeners : undefined).flatMap((listener) =>
    isMap(listener) ? socketAddresses(listener.address ?? null) : [],
  );
}

export interface Cluster {
  name: string;
  endpoints: SocketAddress[];
  /** Upstream spoken in HTTP/2 (h2c without TLS), as gRPC needs. */
  http2: boolean;
}

export function clusters(config: Json): Cluster[] {
  const resources = isMap(config) ? config.static_resources : undefined;
  return list(isMap(resources) ? resources.clusters : undefined)
    .filter(isMap)
    .map((cluster) => ({
      name: String(cluster.name),
      endpoints: socketAddresses(cluster.load_assignment ?? null),
      http2: valuesOfKey(cluster, 'http2_protocol_options').length > 0,
    }));
}
