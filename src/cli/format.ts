import type { TaskRecord, TaskStatus } from '../task.js';

/** Where the command writes, and what it knows about the terminal. */
export interface CliIo {
  /** Standard output (results). */
  out: (text: string) => void;
  /** Resolves once what `out` wrote has left the process's buffer (backpressure); optional. */
  flush?: () => Promise<void>;
  /** Standard error (messages for humans). */
  err: (text: string) => void;
  /** Colours on: stdout is a terminal and `NO_COLOR` is not set. */
  color: boolean;
  /** Width of the terminal, when stdout is one. */
  columns: number | undefined;
  /** The process environment. */
  env: Readonly<Record<string, string | undefined>>;
  /** The current directory (default `cwd` of submitted tasks). */
  cwd: string;
  /** The clock of relative times (ms since the epoch). */
  now: () => number;
  /** Standard input, for `send ID -`; absent: there is none. */
  stdin?: AsyncIterable<Uint8Array>;
}

const CODES = { red: 31, green: 32, yellow: 33, blue: 34, cyan: 36, dim: 2, bold: 1 } as const;
type Colour = keyof typeof CODES;

/** `text` in an ANSI colour when colours are on. */
export function paint(io: Pick<CliIo, 'color'>, colour: Colour, text: string): string {
  return io.color ? `\u001b[${CODES[colour]}m${text}\u001b[0m` : text;
}

const STATUS_COLOUR: Record<TaskStatus, Colour> = {
  queued: 'dim',
  waiting: 'dim',
  running: 'cyan',
  completed: 'green',
  failed: 'red',
  cancelled: 'yellow',
  timed_out: 'red',
  lost: 'red',
};

/** A status word, coloured by what it means. */
export function statusText(io: Pick<CliIo, 'color'>, status: TaskStatus): string {
  return paint(io, STATUS_COLOUR[status], status);
}

/** A duration for humans: `850ms`, `12s`, `3m05s`, `2h10m`, `4d3h`. */
export function duration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return '-';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return ms < 10_000 ? `${(ms / 1000).toFixed(1)}s` : `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h${String(m % 60).padStart(2, '0')}m`;
  return `${Math.floor(h / 24)}d${h % 24}h`;
}

/** A time relative to now: `12s ago`, `in 3m00s`, `just now`. */
export function relative(now: number, at: number | undefined): string {
  if (at === undefined) return '-';
  const d = now - at;
  if (Math.abs(d) < 1000) return 'just now';
  return d > 0 ? `${duration(d)} ago` : `in ${duration(-d)}`;
}

// C0 controls, DEL and C1 controls (0x9b is a one-byte CSI on some terminals).
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

/**
 * Text that came from a record (a command, a group, a note), made safe to print on a terminal:
 * control characters are shown as `\xNN`, so whoever submitted a task cannot move the cursor,
 * set the window title or clear the operator's screen through `ls` or `show`.
 */
export function printable(text: string): string {
  return text.replace(CONTROL, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/** The command of a record as one line (`args` quoted when needed), safe to print. */
export function commandLine(record: TaskRecord): string {
  const { command, args } = record.spec;
  const words = args === undefined ? [command] : [command, ...args.map(quoteWord)];
  return printable(words.join(' ').replace(/[ \t\n\r]+/g, ' '));
}

function quoteWord(word: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** Exit column of a record: the exit code, the signal, or `-`. */
export function exitText(record: Pick<TaskRecord, 'exitCode' | 'signal'>): string {
  if (record.signal) return record.signal;
  if (typeof record.exitCode === 'number') return String(record.exitCode);
  return '-';
}

/** How long the task ran (or has been running). */
export function runTime(now: number, record: TaskRecord): string {
  if (record.startedAt === undefined) return '-';
  const end = record.status === 'running' ? now : (record.endedAt ?? now);
  return duration(end - record.startedAt);
}

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g;
const visible = (s: string): number => s.replace(ANSI, '').length;

/**
 * Lays rows out as aligned columns (two spaces apart). The last column is cut to fit `width`,
 * when there is one, so a long command never wraps.
 */
export function table(headers: readonly string[], rows: readonly (readonly string[])[], width?: number): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => visible(r[i] ?? ''))));
  const line = (cells: readonly string[]): string => {
    let text = cells.map((c, i) => (i === cells.length - 1 ? c : c + ' '.repeat((widths[i] ?? 0) - visible(c)))).join('  ');
    if (width !== undefined && visible(text) > width) {
      const overflow = visible(text) - width;
      const last = cells.at(-1) ?? '';
      const keep = Math.max(1, visible(last) - overflow - 1);
      text = [...cells.slice(0, -1).map((c, i) => c + ' '.repeat((widths[i] ?? 0) - visible(c))), `${last.replace(ANSI, '').slice(0, keep)}…`].join('  ');
    }
    return text.trimEnd();
  };
  return [line(headers), ...rows.map(line)].join('\n') + '\n';
}
