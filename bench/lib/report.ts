import type { Ledger } from './cpu-ledger.js';
import { round } from './stats.js';

export interface Row {
  figure: string;
  value: string;
  /** The figure as a fraction of the limit it depends on, measured in the same run. */
  ratio?: string;
  target?: string;
  met?: boolean;
}

/** A plain-text table (also valid Markdown), one row per figure. */
export function formatTable(rows: Row[]): string {
  const header = ['figure', 'value', 'ratio to limit', 'target', 'met'];
  const cells = rows.map((r) => [r.figure, r.value, r.ratio ?? '', r.target ?? '', r.met === undefined ? '' : r.met ? 'yes' : 'NO']);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => `| ${c.map((x, i) => x.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.map(line)].join('\n');
}

export const fmt = {
  rate: (v: number) => `${Math.round(v).toLocaleString('en-US')}/s`,
  ms: (v: number) => `${round(v, v < 10 ? 1 : 0)} ms`,
  ratio: (v: number) => round(v, 2).toFixed(2),
};

/** One performance goal with its figure from this run; `met` undefined when it could not be judged. */
export interface Goal {
  goal: string;
  figure: string;
  value: string;
  ratio?: string;
  target?: string;
  met?: boolean;
}

export function formatGoals(goals: Goal[]): string {
  return grid(
    ['goal', 'figure', 'value', 'ratio', 'target', 'met'],
    goals.map((g) => [g.goal, g.figure, g.value, g.ratio ?? '', g.target ?? '', g.met === undefined ? (g.value.startsWith('not available') ? 'not available' : '') : g.met ? 'met' : 'NOT MET']),
  );
}

export interface LedgerColumn {
  title: string;
  ledger: Ledger;
}

/** Processes as rows, runs as columns, CPU ms per task in the cells; then the sum and the whole machine. */
export function formatLedger(columns: LedgerColumn[]): string {
  const names: string[] = [];
  const notes = new Map<string, string>();
  for (const c of columns)
    for (const e of c.ledger.entries) {
      if (!names.includes(e.name)) names.push(e.name);
      if (e.note) notes.set(e.name, e.note);
    }
  const ms = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '' : v.toFixed(3));
  const rows = names.map((name) => [notes.has(name) ? `${name} (${notes.get(name)})` : name, ...columns.map((c) => ms(c.ledger.entries.find((e) => e.name === name)?.cpuMsPerTask))]);
  rows.push(['sum of the processes above', ...columns.map((c) => ms(c.ledger.entries.reduce((sum, e) => sum + (Number.isFinite(e.cpuMsPerTask) ? e.cpuMsPerTask : 0), 0)))]);
  rows.push(['whole machine (/proc/stat, every process)', ...columns.map((c) => ms(c.ledger.machineCpuMsPerTask))]);
  rows.push(['tasks in the run', ...columns.map((c) => c.ledger.tasks.toLocaleString('en-US'))]);
  return grid(['CPU ms per task', ...columns.map((c) => c.title)], rows);
}

function grid(header: string[], cells: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => `| ${c.map((x, i) => x.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.map(line)].join('\n');
}
