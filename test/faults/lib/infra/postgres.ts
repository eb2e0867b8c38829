import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { exec, giveTo } from './exec.js';
import { freePort } from '../ports.js';

const PG_USER = 'postgres';

/**
 * A PostgreSQL cluster of the suite's own (initdb in a temporary directory,
 * its own port), so scenarios can stop and restart it without disturbing the
 * shared server other engineers' tests are using.
 */
export class PrivatePostgres {
  readonly port: number;
  /** False between stop() and the next start(). */
  running = false;
  private readonly dataDir: string;
  private readonly logFile: string;

  private constructor(
    private readonly bin: string,
    private readonly dir: string,
    port: number,
  ) {
    this.port = port;
    this.dataDir = join(dir, 'data');
    this.logFile = join(dir, 'postgres.log');
  }

  static async create(baseDir: string): Promise<PrivatePostgres> {
    const bin = findPostgresBin();
    const dir = join(baseDir, 'postgres');
    mkdirSync(dir, { recursive: true });
    giveTo(dir, PG_USER);
    const pg = new PrivatePostgres(bin, dir, await freePort());
    await exec(join(bin, 'initdb'), ['-D', pg.dataDir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync'], { user: PG_USER });
    await pg.start();
    return pg;
  }

  /** A connection URL for `database` on this cluster. */
  url(database: string): string {
    return `postgresql://postgres@127.0.0.1:${this.port}/${database}`;
  }

  async start(): Promise<void> {
    const options = [
      `-p ${this.port}`,
      `-k ${this.dir}`,
      '-c listen_addresses=127.0.0.1',
      '-c max_connections=300',
      // Durable commits stay on (they are what scenario 5 relies on); only the
      // checkpoint pace is relaxed for a short-lived cluster.
      '-c checkpoint_timeout=30min',
    ].join(' ');
    await exec(join(this.bin, 'pg_ctl'), ['-D', this.dataDir, '-l', this.logFile, '-w', '-t', '60', '-o', options, 'start'], {
      user: PG_USER,
    });
    this.running = true;
  }

  /** Starts the cluster again if a scenario left it stopped. */
  async ensureRunning(): Promise<void> {
    if (!this.running) await this.start();
  }

  /** `immediate` is a crash (no checkpoint, recovery on the next start); `fast` a clean shutdown. */
  async stop(mode: 'fast' | 'immediate' = 'fast'): Promise<void> {
    await exec(join(this.bin, 'pg_ctl'), ['-D', this.dataDir, '-m', mode, '-w', '-t', '60', 'stop'], { user: PG_USER, allowFailure: true });
    this.running = false;
  }
}

function findPostgresBin(): string {
  const root = '/usr/lib/postgresql';
  if (existsSync(root)) {
    const versions = readdirSync(root).filter((v) => existsSync(join(root, v, 'bin', 'initdb')));
    versions.sort((a, b) => Number(b) - Number(a));
    if (versions[0]) return join(root, versions[0], 'bin');
  }
  throw new Error('PostgreSQL server binaries (initdb, pg_ctl) not found under /usr/lib/postgresql; install postgresql');
}
