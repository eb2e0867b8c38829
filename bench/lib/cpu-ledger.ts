import { readdirSync, readFileSync } from 'node:fs';

// The CPU ledger: CPU time (utime + stime from /proc, Linux only) that each
// process involved in a measured run spent on it, divided by the tasks the
// run handled. A source names a group of processes (one service, the
// PostgreSQL backends of one database, the broker's VM) and finds their pids
// when asked; the ledger samples them while the run lasts, so a process that
// appears during the run is counted from its start and one that exits
// during it keeps what it had used at its last sample.
//
// Imported by the peers' scripts (bench/peers) too, so it depends on nothing
// but Node.js.

const TICKS_PER_SECOND = 100; // USER_HZ on Linux
const SAMPLE_MS = 500;

export interface LedgerSource {
  name: string;
  /** Pids of the processes counted under this name right now. */
  pids(): number[] | Promise<number[]>;
  /** Shown beside the figure, e.g. that other sessions use the process too. */
  note?: string;
}

export interface LedgerEntry {
  name: string;
  /** CPU milliseconds per task handled in the run. */
  cpuMsPerTask: number;
  cpuSeconds: number;
  processes: number;
  note?: string;
}

export interface Ledger {
  tasks: number;
  seconds: number;
  entries: LedgerEntry[];
  /** Every process of the machine (/proc/stat), other sessions' included: how loaded the run was. */
  machineCpuMsPerTask: number;
  /** Of the machine's busy time, what the listed processes do not account for. */
  unaccountedCpuMsPerTask: number;
}

/** Ticks of CPU (user + system) one process has used; null once it is gone. */
export function processTicks(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return null;
  }
}

/** Ticks of CPU (user + system) of this process's children that have exited and been waited for. */
export function reapedChildrenTicks(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[13]) + Number(fields[14]);
}

/** Busy ticks of the whole machine (all CPUs; idle and iowait excluded). */
function machineBusyTicks(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!;
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  return user! + nice! + system! + irq! + softirq! + steal!;
}

/** Pids of every process whose command name (comm) is one of `names`, e.g. beam.smp. */
export function pidsByCommand(...names: string[]): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (names.includes(readFileSync(`/proc/${entry}/comm`, 'utf8').trim())) pids.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

/** The ledger's row names, shared by the bench and the peers' scripts so their columns line up. */
export const LEDGER_ROWS = {
  bench: 'bench process (Node.js client, observer)',
  cLoad: 'C load generator (h2load / wrk)',
  peer: 'peer process (producers + consumers)',
  postgresBackends: "PostgreSQL backends of the run's database",
  postgresBackground: 'PostgreSQL background (WAL writer, checkpointer, bgwriter)',
  rabbitmq: 'RabbitMQ (beam.smp)',
  redis: 'Redis',
} as const;

type Query = (sql: string, params: unknown[]) => Promise<{ pid: number }[]>;

/**
 * The PostgreSQL backends connected to `database` (the observer's own
 * connections, named `observerName`, left out) and the server's background
 * processes, found through pg_stat_activity.
 */
export function postgresSources(query: Query, database: string, observerName: string): LedgerSource[] {
  const pids = (where: string) => async () =>
    (await query(`select pid from pg_stat_activity where ${where} and pid <> pg_backend_pid() and coalesce(application_name, '') <> $2`, [database, observerName])).map((r) => r.pid);
  return [
    { name: LEDGER_ROWS.postgresBackends, pids: pids('datname = $1') },
    { name: LEDGER_ROWS.postgresBackground, pids: pids('datname is null and $1::text is not null'), note: 'shared with other sessions' },
  ];
}

/** A source of the one process whose pid is known (a service the bench started, the bench itself). */
export function processSource(name: string, pid: number, note?: string): LedgerSource {
  return { name, pids: () => [pid], note };
}

/**
 * A source whose CPU is known only as a total (a child that exited, read from
 * this process's reaped-children time): it is given its ticks at the end.
 */
export interface TotalSource {
  name: string;
  /** Called when the ledger starts; the function it returns gives the ticks used since. */
  start(): () => number;
  note?: string;
}

/** Ticks of the children that exit during the run, e.g. a load generator run to completion. */
export function reapedChildrenSource(name: string, note?: string): TotalSource {
  return {
    name,
    note,
    start() {
      const before = reapedChildrenTicks();
      return () => reapedChildrenTicks() - before;
    },
  };
}

/**
 * Starts sampling, resolving once every source has its first reading (so
 * start it, then the load); `stop(tasks)` ends it and divides by the tasks
 * the run handled.
 */
export async function startLedger(sources: LedgerSource[], totals: TotalSource[] = []): Promise<{ stop(tasks: number): Promise<Ledger> }> {
  const startedAt = performance.now();
  const machineBefore = machineBusyTicks();
  const totalsStarted = totals.map((t) => t.start());
  // Per source: pid -> [ticks at first sight, ticks at last sight]. A pid
  // first seen after the start was born during the run: all its ticks count.
  const seen = sources.map(() => new Map<number, [number, number]>());
  let first = true;
  const sample = async () => {
    await Promise.all(
      sources.map(async (source, i) => {
        const pids = await Promise.resolve(source.pids()).catch(() => [] as number[]);
        for (const pid of pids) {
          const ticks = processTicks(pid);
          if (ticks === null) continue;
          const known = seen[i]!.get(pid);
          if (known) known[1] = ticks;
          else seen[i]!.set(pid, [first ? ticks : 0, ticks]);
        }
        // Pids no longer listed (a backend that disconnected) keep their last sample.
        for (const [pid, known] of seen[i]!) {
          if (pids.includes(pid)) continue;
          const ticks = processTicks(pid);
          if (ticks !== null && ticks >= known[1]) known[1] = ticks;
        }
      }),
    );
    first = false;
  };
  await sample();
  let pending: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    pending = pending.then(sample);
  }, SAMPLE_MS);
  timer.unref();
  return {
    async stop(tasks: number): Promise<Ledger> {
      clearInterval(timer);
      await pending;
      await sample();
      const machineTicks = machineBusyTicks() - machineBefore;
      const perTask = (ticks: number) => (tasks > 0 ? (ticks * 1000) / TICKS_PER_SECOND / tasks : NaN);
      const entries: LedgerEntry[] = sources.map((source, i) => {
        let ticks = 0;
        for (const [before, after] of seen[i]!.values()) ticks += after - before;
        return { name: source.name, cpuMsPerTask: perTask(ticks), cpuSeconds: ticks / TICKS_PER_SECOND, processes: seen[i]!.size, note: source.note };
      });
      for (const [i, total] of totals.entries()) {
        const ticks = totalsStarted[i]!();
        entries.push({ name: total.name, cpuMsPerTask: perTask(ticks), cpuSeconds: ticks / TICKS_PER_SECOND, processes: 1, note: total.note });
      }
      const listed = entries.reduce((sum, e) => sum + e.cpuSeconds * TICKS_PER_SECOND, 0);
      return {
        tasks,
        seconds: (performance.now() - startedAt) / 1000,
        entries,
        machineCpuMsPerTask: perTask(machineTicks),
        unaccountedCpuMsPerTask: perTask(Math.max(0, machineTicks - listed)),
      };
    },
  };
}
