import { connect } from 'node:net';
import { loadTestEnv } from './test-env.js';

// vitest globalSetup: before any test runs, check that the real services the
// tests use are reachable, and say how to start the one that is not.

const HOW_TO_START: Record<string, string> = {
  PostgreSQL: 'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start',
  RabbitMQ: 'rabbitmq-server -detached',
};

function reachable(url: string, defaultPort: number): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port) || defaultPort, timeout: 2_000 });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

export default async function preflight(): Promise<void> {
  const env = loadTestEnv();
  const checks: [string, string, number][] = [
    ['PostgreSQL', env.DATABASE_URL!, 5432],
    ['RabbitMQ', env.AMQP_URL!, 5672],
  ];
  const missing: string[] = [];
  for (const [name, url, port] of checks) {
    if (!(await reachable(url, port))) missing.push(`${name} is not reachable at ${new URL(url).host}; start it with: ${HOW_TO_START[name]}`);
  }
  if (missing.length > 0) throw new Error(`the tests need real services:\n  ${missing.join('\n  ')}`);
}
