import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as delay } from 'node:timers/promises';

export interface ServiceSpec {
  /** Unique within a scenario: "task-api", "processor-2", "gateway". */
  name: string;
  /** Entry file, relative to the repository root. */
  entry: string;
  env: Record<string, string>;
  /** Resolves once the service does its job (e.g. a log line, a health answer). */
  ready: (service: ServiceProcess) => Promise<void>;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

// Variables the services read; the suite's own environment must not leak them
// into a child (a developer's shell may export DATABASE_URL, say).
const SERVICE_VARIABLE = /^(DATABASE_|AMQP_|QUEUE_|LOG_LEVEL|TASK_|OUTBOX_|PROCESSOR_|PROCESSING_|GATEWAY_)/;

/**
 * One service process, started the way scripts/start-local.sh starts it
 * (`node --conditions=development --import tsx <entry>`), with stdout and
 * stderr appended to a log file of its own.
 */
export class ServiceProcess {
  readonly exited: Promise<Exit>;
  private readonly child: ChildProcess;
  private readonly lineWaiters = new Set<{ pattern: RegExp; resolve: () => void }>();
  private expectingExit = false;
  private exit: Exit | null = null;

  constructor(
    readonly spec: ServiceSpec,
    repoRoot: string,
    readonly logPath: string,
    onUnexpectedExit: (service: ServiceProcess, exit: Exit) => void,
  ) {
    const log: WriteStream = createWriteStream(logPath, { flags: 'a' });
    const env: Record<string, string> = {};
    for (const [key, value] of Object.entries(process.env)) {
      if (value !== undefined && !SERVICE_VARIABLE.test(key) && key !== 'NODE_OPTIONS') env[key] = value;
    }
    this.child = spawn(process.execPath, ['--conditions=development', '--import', 'tsx', spec.entry], {
      cwd: repoRoot,
      env: { ...env, ...spec.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    for (const stream of [this.child.stdout!, this.child.stderr!]) {
      createInterface({ input: stream }).on('line', (line) => {
        log.write(`${line}\n`);
        for (const waiter of this.lineWaiters) {
          if (waiter.pattern.test(line)) {
            this.lineWaiters.delete(waiter);
            waiter.resolve();
          }
        }
      });
    }
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        if (!this.expectingExit) onUnexpectedExit(this, this.exit);
        // Let the last lines reach the log before anyone reads it.
        setTimeout(() => log.end(() => resolve({ code, signal })), 50);
      });
    });
  }

  get name(): string {
    return this.spec.name;
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get running(): boolean {
    return this.exit === null;
  }

  /** Resolves when a log line matches `pattern` (lines from now on); rejects if the process exits first. */
  waitForLine(pattern: RegExp, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const waiter = { pattern, resolve: () => finish(resolve) };
      const timer = setTimeout(() => finish(() => reject(new Error(`${this.name}: no log line matching ${pattern} within ${timeoutMs} ms\n${this.tail()}`))), timeoutMs);
      void this.exited.then((exit) => finish(() => reject(new Error(`${this.name} exited (${exit.code ?? exit.signal}) before logging ${pattern}\n${this.tail()}`))));
      const finish = (settle: () => void) => {
        clearTimeout(timer);
        this.lineWaiters.delete(waiter);
        settle();
      };
      this.lineWaiters.add(waiter);
    });
  }

  /** Sends a signal the suite means to send; the exit that follows is not a failure. */
  signal(signal: NodeJS.Signals): void {
    this.expectingExit = true;
    if (this.running) this.child.kill(signal);
  }

  /** Marks an exit the scenario provokes itself (the task-api fault hook) as expected. */
  expectExit(): void {
    this.expectingExit = true;
  }

  /** Waits for the exit; SIGKILL after `timeoutMs`. Returns the exit and how long it took. */
  async waitForExit(timeoutMs: number): Promise<Exit & { ms: number; forced: boolean }> {
    const started = Date.now();
    const timedOut = Symbol('timeout');
    const first = await Promise.race([this.exited, delay(timeoutMs).then(() => timedOut)]);
    if (first !== timedOut) return { ...(first as Exit), ms: Date.now() - started, forced: false };
    this.signal('SIGKILL');
    return { ...(await this.exited), ms: Date.now() - started, forced: true };
  }

  /** The last lines of the log, for error messages. */
  tail(lines = 15): string {
    try {
      return readFileSync(this.logPath, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }
}

/**
 * Starts, kills and restarts the services of one scenario, and remembers
 * every exit the scenario did not ask for: a service that crashes is a failure
 * even if the figures come out right.
 */
export class Supervisor {
  readonly unexpectedExits: string[] = [];
  private readonly services = new Map<string, ServiceProcess>();
  /** Services restarted when they exit on their own (as an orchestrator would), with what to tell on each crash. */
  private readonly keptAlive = new Map<string, (exit: Exit) => void>();
  private readonly restarts: Promise<unknown>[] = [];

  constructor(
    private readonly repoRoot: string,
    private readonly logDir: string,
  ) {
    mkdirSync(logDir, { recursive: true });
  }

  get(name: string): ServiceProcess {
    const service = this.services.get(name);
    if (!service) throw new Error(`no service ${name}`);
    return service;
  }

  running(prefix: string): ServiceProcess[] {
    return [...this.services.values()].filter((s) => s.name.startsWith(prefix) && s.running);
  }

  async start(spec: ServiceSpec, readyTimeoutMs = 60_000): Promise<ServiceProcess> {
    const previous = this.services.get(spec.name);
    if (previous?.running) throw new Error(`${spec.name} is already running`);
    const service = new ServiceProcess(spec, this.repoRoot, join(this.logDir, `${spec.name}.log`), (s, exit) => {
      const onCrash = this.keptAlive.get(s.name);
      if (!onCrash) {
        this.unexpectedExits.push(`${s.name} (pid ${s.pid}) exited on its own with ${exit.code ?? exit.signal}`);
        return;
      }
      onCrash(exit);
      const restart = this.start(s.spec).catch((error: unknown) => {
        this.unexpectedExits.push(`${s.name} could not be restarted after a crash: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`);
      });
      this.restarts.push(restart);
    });
    this.services.set(spec.name, service);
    // Whichever of these loses the race rejects later; nobody must be left
    // holding an unhandled rejection.
    const ready = spec.ready(service);
    const exitedEarly = service.exited.then((exit) => {
      throw new Error(`${spec.name} exited (${exit.code ?? exit.signal}) while starting\n${service.tail()}`);
    });
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${spec.name} not ready within ${readyTimeoutMs} ms\n${service.tail()}`)), readyTimeoutMs);
    });
    for (const p of [ready, exitedEarly, timedOut]) p.catch(() => undefined);
    try {
      await Promise.race([ready, exitedEarly, timedOut]);
    } finally {
      clearTimeout(timer);
    }
    return service;
  }

  /**
   * From now on, an exit of `name` that the suite did not ask for is a crash
   * to be survived, not a failure: `onCrash` hears of it and the service is
   * started again with the same spec, as a container orchestrator would.
   */
  keepAlive(name: string, onCrash: (exit: Exit) => void): void {
    this.keptAlive.set(name, onCrash);
  }

  /** Waits for the restarts that crashes of kept-alive services have begun. */
  async settleRestarts(): Promise<void> {
    while (this.restarts.length > 0) await Promise.all(this.restarts.splice(0));
  }

  /** Starts a service again with the spec it last ran with (optionally changed). */
  restart(name: string, change: (spec: ServiceSpec) => ServiceSpec = (s) => s): Promise<ServiceProcess> {
    return this.start(change(this.get(name).spec));
  }

  /** SIGTERM to every running service, then SIGKILL to whatever is still up after `graceMs`. */
  async stopAll(graceMs = 15_000): Promise<void> {
    // A service stopped on purpose is not restarted, and none that is still
    // coming back from a crash is left behind.
    this.keptAlive.clear();
    await this.settleRestarts();
    const running = [...this.services.values()].filter((s) => s.running);
    for (const service of running) service.signal('SIGTERM');
    await Promise.all(running.map((s) => s.waitForExit(graceMs)));
  }

  /** For the suite's own emergency exit: SIGKILL everything at once. */
  killAll(): void {
    this.keptAlive.clear();
    for (const service of this.services.values()) service.signal('SIGKILL');
  }
}
