import type { Figures } from './checker.js';

export interface ScenarioResult {
  id: string;
  title: string;
  figures: Figures;
  failures: string[];
  notes: string[];
  durationMs: number;
}

export function passed(result: ScenarioResult): boolean {
  const f = result.figures;
  return (
    result.failures.length === 0 &&
    f.lost + f.duplicated + f.illegal + f.completedAfterCancel + f.stuck + f.badInput5xx + f.serverErrors + f.pastDeadline === 0
  );
}

const COLUMNS: [string, (r: ScenarioResult) => string][] = [
  ['scenario', (r) => r.id],
  ['submitted', (r) => String(r.figures.submitted)],
  ['completed', (r) => String(r.figures.completed)],
  ['canceled', (r) => String(r.figures.canceled)],
  ['failed', (r) => String(r.figures.failed)],
  ['lost', (r) => String(r.figures.lost)],
  ['duplicated', (r) => String(r.figures.duplicated)],
  ['illegal', (r) => String(r.figures.illegal)],
  ['done-after-cancel', (r) => String(r.figures.completedAfterCancel)],
  ['stuck', (r) => String(r.figures.stuck)],
  ['5xx-bad-input', (r) => String(r.figures.badInput5xx)],
  ['500s', (r) => String(r.figures.serverErrors)],
  ['past-deadline', (r) => String(r.figures.pastDeadline)],
  ['checks', (r) => (r.failures.length === 0 ? 'ok' : `${r.failures.length} failed`)],
  ['time', (r) => `${(r.durationMs / 1000).toFixed(1)}s`],
  ['result', (r) => (passed(r) ? 'PASS' : 'FAIL')],
];

/** The table, one line per scenario, then each scenario's notes and failed checks. */
export function formatReport(results: ScenarioResult[], totalMs: number): string {
  const cells = results.map((r) => COLUMNS.map(([, value]) => value(r)));
  const widths = COLUMNS.map(([title], i) => Math.max(title.length, ...cells.map((row) => row[i]!.length)));
  const line = (row: string[]) => row.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ');
  const out = [line(COLUMNS.map(([title]) => title)), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)];
  const failed = results.filter((r) => !passed(r)).length;
  out.push('', `${results.length} scenario(s), ${failed} failed, ${(totalMs / 1000).toFixed(1)} s in all`, '');
  for (const r of results) {
    if (r.notes.length === 0 && r.failures.length === 0) continue;
    out.push(`${r.id} (${r.title})`);
    for (const note of r.notes) out.push(`    ${note}`);
    for (const failure of r.failures) out.push(`  ! ${failure}`);
  }
  return out.join('\n');
}
