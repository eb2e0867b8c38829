// Container health check for the processor, which serves no port: healthy
// while this container holds an established TCP connection to each server
// whose URL is named, i.e. the processor is connected to its broker and holds
// its LISTEN connection to PostgreSQL. Both reconnect with backoff after an
// outage, so "unhealthy" means "not connected right now", not "crashed" (a
// crashed processor ends the container, and the restart policy acts).
//
//   node deploy/probes/holds-connections.mjs DATABASE_URL AMQP_URL
//
// Arguments name environment variables holding URLs. It reads the kernel's
// socket tables of this network namespace (/proc/net/tcp and tcp6), which in a
// container hold the container's sockets only, and matches on the remote port.
// Exit codes: 0 every named server is connected; 1 otherwise or on bad usage.

import { readFileSync } from 'node:fs';

const DEFAULT_PORTS = { 'postgres:': 5432, 'postgresql:': 5432, 'amqp:': 5672, 'amqps:': 5671 };
const TCP_ESTABLISHED = '01';
const TABLES = ['/proc/net/tcp', '/proc/net/tcp6'];

function fail(message) {
  process.stderr.write(`holds-connections: ${message}\n`);
  process.exit(1);
}

/** Remote ports of every ESTABLISHED socket in this network namespace. */
function establishedRemotePorts() {
  const ports = new Set();
  for (const table of TABLES) {
    let text;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue; // no IPv6 in this namespace
    }
    // Columns: sl local_address rem_address st ...; addresses are HEXIP:HEXPORT.
    for (const line of text.split('\n').slice(1)) {
      const [, , remote, state] = line.trim().split(/\s+/);
      if (state === TCP_ESTABLISHED && remote) ports.add(Number.parseInt(remote.split(':')[1], 16));
    }
  }
  return ports;
}

const names = process.argv.slice(2);
if (names.length === 0) fail('usage: holds-connections.mjs ENV_VAR_WITH_URL...');

const connected = establishedRemotePorts();
const missing = [];
for (const name of names) {
  const value = process.env[name];
  if (!value) fail(`${name} is not set`);
  let url;
  try {
    url = new URL(value);
  } catch {
    fail(`${name} is not a URL`);
  }
  const port = Number(url.port) || DEFAULT_PORTS[url.protocol];
  if (!port) fail(`${name}: no default port for ${url.protocol}`);
  if (!connected.has(port)) missing.push(`${name} (${url.hostname}:${port})`);
}
if (missing.length > 0) fail(`no established connection to ${missing.join(', ')}`);
