// The benchmarks of `npm run bench` in the order of docs/performance.md, and how their rows are printed
// (a fixed-width table for the terminal, Markdown for docs/performance.md).
import { run as dispatchLatency } from '../dispatch-latency.js';
import { run as localThroughput } from '../local-throughput.js';
import { run as output } from '../output.js';
import { run as recovery } from '../recovery.js';
import { run as remote } from '../remote.js';
import { run as scheduler } from '../scheduler.js';
import { round } from './stats.js';
import { describeTarget, type BenchFn, type Row } from './types.js';

export interface BenchEntry {
  id: string;
  title: string;
  run: BenchFn;
}

export const BENCHMARKS: readonly BenchEntry[] = [
  { id: 'throughput', title: '1. Local throughput', run: localThroughput },
  { id: 'scheduler', title: '2. Scheduler overhead', run: scheduler },
  { id: 'latency', title: '3. Dispatch latency', run: dispatchLatency },
  { id: 'output', title: '4. Output', run: output },
  { id: 'recovery', title: '5. Recovery', run: recovery },
  { id: 'remote', title: '6. Remote', run: remote },
];

const HEADERS = ['#', 'benchmark', 'metric', 'bgexec', 'baseline', 'ratio', 'target', 'result', 'note'];

function num(value: number | null): string {
  if (value === null) return '–';
  const r = round(value);
  return Math.abs(r) >= 10_000 ? Math.round(r).toLocaleString('en-US') : String(r);
}

// Two decimals, one from 10× up, two significant digits below 0.01× (e.g. 0.0044×).
function ratioText(ratio: number): string {
  if (ratio >= 10) return round(ratio).toFixed(1);
  if (ratio >= 0.01 || ratio === 0) return round(ratio).toFixed(2);
  return ratio.toPrecision(2);
}

function cells(row: Row): string[] {
  return [
    String(row.issueRow),
    row.name,
    row.metric,
    num(row.value),
    row.baseline === null ? '–' : `${num(row.baseline)} (${row.baselineName})`,
    row.ratio === null ? '–' : `${ratioText(row.ratio)}×`,
    describeTarget(row.target),
    row.status === 'pass' ? 'PASS' : row.status === 'fail' ? 'FAIL' : row.status,
    row.note ?? '',
  ];
}

/** A fixed-width table for the terminal. */
export function formatTable(rows: readonly Row[]): string {
  const body = rows.map(cells);
  const widths = HEADERS.map((h, i) => Math.max(h.length, ...body.map((r) => (r[i] ?? '').length)));
  const line = (r: readonly string[]): string =>
    r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [line(HEADERS), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

/** The same rows as a Markdown table. */
export function formatMarkdown(rows: readonly Row[]): string {
  const esc = (s: string): string => s.replace(/\|/g, '\\|');
  const out = [`| ${HEADERS.join(' | ')} |`, `|${HEADERS.map(() => '---').join('|')}|`];
  for (const row of rows) out.push(`| ${cells(row).map(esc).join(' | ')} |`);
  return out.join('\n');
}
