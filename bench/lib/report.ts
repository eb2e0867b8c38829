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
