import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { exec, giveTo, isRoot } from './exec.js';
import { freePort } from '../ports.js';

const RABBITMQ_USER = 'rabbitmq';
// The Debian wrappers in /usr/sbin switch users with `su` themselves; the real
// scripts take the RABBITMQ_* variables directly.
const SCRIPTS = '/usr/lib/rabbitmq/bin';

/**
 * A RabbitMQ node of the suite's own: its own node name, AMQP and
 * distribution ports, data and log directories. Scenario 4 stops and starts
 * its application without touching the shared broker on 5672.
 */
export class PrivateRabbit {
  readonly nodeName: string;
  /** False between stopApp() and the next startApp(). */
  appRunning = true;

  private constructor(
    readonly port: number,
    private readonly env: Record<string, string>,
  ) {
    this.nodeName = env.RABBITMQ_NODENAME!;
  }

  static async create(baseDir: string): Promise<PrivateRabbit> {
    if (!existsSync(join(SCRIPTS, 'rabbitmq-server'))) {
      throw new Error(`RabbitMQ scripts not found in ${SCRIPTS}; install rabbitmq-server`);
    }
    const dir = join(baseDir, 'rabbitmq');
    mkdirSync(dir, { recursive: true });
    const port = await freePort();
    const distPort = await freePort();
    const config = join(dir, 'rabbitmq.conf');
    writeFileSync(config, `listeners.tcp.local = 127.0.0.1:${port}\n`);
    const plugins = join(dir, 'enabled_plugins');
    writeFileSync(plugins, '[].\n');
    for (const path of [dir, config, plugins]) giveTo(path, RABBITMQ_USER);
    const env = {
      RABBITMQ_NODENAME: `taskproc-faults-${process.pid}@localhost`,
      RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
      RABBITMQ_NODE_PORT: String(port),
      RABBITMQ_DIST_PORT: String(distPort),
      RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'),
      RABBITMQ_LOG_BASE: join(dir, 'log'),
      RABBITMQ_CONFIG_FILE: config,
      RABBITMQ_ENABLED_PLUGINS_FILE: plugins,
      RABBITMQ_PID_FILE: join(dir, 'rabbitmq.pid'),
      // The shared node's rabbitmq-env.conf names its own node; these win over it.
      ...(isRoot ? {} : { HOME: dir }),
    };
    const rabbit = new PrivateRabbit(port, env);
    await exec(join(SCRIPTS, 'rabbitmq-server'), ['-detached'], { user: RABBITMQ_USER, env, cwd: dir });
    await rabbit.awaitStartup();
    return rabbit;
  }

  get amqpUrl(): string {
    return `amqp://guest:guest@127.0.0.1:${this.port}`;
  }

  /** Stops the RabbitMQ application; the Erlang node (and the data) stay. */
  async stopApp(): Promise<void> {
    this.appRunning = false;
    await this.ctl(['stop_app']);
  }

  async startApp(): Promise<void> {
    await this.ctl(['start_app']);
    await this.awaitStartup();
    this.appRunning = true;
  }

  /** Starts the application again if a scenario left it stopped. */
  async ensureRunning(): Promise<void> {
    if (!this.appRunning) await this.startApp();
  }

  /** Messages ready and unacknowledged per queue whose name starts with `prefix`. */
  async queueDepths(prefix: string): Promise<Map<string, { ready: number; unacked: number }>> {
    const { stdout } = await this.ctl(['list_queues', '--quiet', '--no-table-headers', 'name', 'messages_ready', 'messages_unacknowledged']);
    const depths = new Map<string, { ready: number; unacked: number }>();
    for (const line of stdout.split('\n')) {
      const [name, ready, unacked] = line.trim().split(/\s+/);
      if (name?.startsWith(prefix)) depths.set(name, { ready: Number(ready), unacked: Number(unacked) });
    }
    return depths;
  }

  /**
   * `await_startup` fails at once while the node has not registered with epmd
   * yet (just after `-detached`), so it is retried until a deadline.
   */
  private async awaitStartup(timeoutMs = 120_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const result = await this.ctl(['await_startup', '--timeout', '60'], 70_000, true);
      if (result.code === 0) return;
      if (Date.now() > deadline) throw new Error(`RabbitMQ node ${this.nodeName} did not start: ${result.stderr.split('\n').slice(0, 3).join(' ')}`);
      await delay(500);
    }
  }

  /** Halts the node. */
  async stop(): Promise<void> {
    await this.ctl(['stop'], 60_000, true);
  }

  private ctl(args: string[], timeoutMs = 60_000, allowFailure = false) {
    return exec(join(SCRIPTS, 'rabbitmqctl'), ['-n', this.nodeName, ...args], {
      user: RABBITMQ_USER,
      env: this.env,
      timeoutMs,
      allowFailure,
    });
  }
}
