import { constants } from 'node:os';
import type { ExitInfo } from '../types.js';

/** `"<pid> <pgid>\n"` of the attempt's leader (one of the run directory's files). */
export const PID_FILE = 'pid';
/** How the attempt ended, installed by rename; see {@link parseExitFile}. */
export const EXIT_FILE = 'exit';
/** The `exit` marker being written, renamed to {@link EXIT_FILE} once complete. */
export const EXIT_PENDING_FILE = 'exit.pending';
/**
 * What a detached attempt's `exit.pending` holds until the wrapper writes the status over its
 * start (without truncating): 63 spaces and a newline, room for any status line. A status line
 * followed by what is left of this padding parses as that status (see {@link parseExitFile}).
 */
export const EXIT_PLACEHOLDER = `${' '.repeat(63)}\n`;
/** Present once a kill was requested: `"<SIGNAME> <epoch ms>\n"`. */
export const KILLREQ_FILE = 'killreq';
/** Boot id, start time and mode of a detached attempt; see {@link formatMetaFile}. */
export const META_FILE = 'meta';
/** The attempt's stdout. */
export const OUT_FILE = 'out';
/** The attempt's stderr. */
export const ERR_FILE = 'err';
/**
 * The attempt's standard input, when it has one: with `stdin: 'pipe'` a FIFO the task reads, which
 * writers open, write and close (any number of times); with input given up front, a regular
 * file holding it. Absent for `/dev/null`.
 */
export const IN_FILE = 'in';
/**
 * `"<pid>\n"` of the process that holds the FIFO `in` open for writing while the attempt runs,
 * so that the task sees end-of-file only when its input is closed, not whenever a writer closes.
 * Closing the input is ending that process; it is ended with the attempt in any case.
 */
export const IN_HOLDER_FILE = 'in.pid';

const SIGNALS = constants.signals as Readonly<Record<string, number>>;
const SIGNAL_NAMES = new Map<number, string>();
for (const [name, num] of Object.entries(SIGNALS)) {
  // Several names can share a number (SIGIOT/SIGABRT, SIGPOLL/SIGIO); keep the first, canonical one.
  if (!SIGNAL_NAMES.has(num)) SIGNAL_NAMES.set(num, name);
}

/** Number of a signal name (`SIGTERM` → 15), or undefined when unknown. */
export function signalNumber(name: string): number | undefined {
  return Object.hasOwn(SIGNALS, name) ? SIGNALS[name] : undefined;
}

/** Name of a signal number (15 → `SIGTERM`), or undefined when unknown. */
export function signalName(num: number): string | undefined {
  return SIGNAL_NAMES.get(num);
}

/** Content of a `pid` file: `"<pid> <pgid>\n"`. */
export function formatPidFile(pid: number, pgid: number): string {
  return `${pid} ${pgid}\n`;
}

const PID_RE = /^([1-9][0-9]{0,9}) ([1-9][0-9]{0,9})\n$/;

/**
 * Parses a `pid` file strictly. An empty or incomplete file (no trailing newline: the writer
 * has not finished) yields undefined, as does anything malformed.
 */
export function parsePidFile(text: string): { pid: number; pgid: number } | undefined {
  const m = PID_RE.exec(text);
  if (!m) return undefined;
  return { pid: Number(m[1]), pgid: Number(m[2]) };
}

/** Why an attempt ended without running: its cwd vanished, or the program could not be executed. */
export type ExitFailureReason = 'cwd_missing' | 'spawn_failed';

/** A parsed `exit` file. */
export type ExitMarker =
  | { kind: 'code'; code: number; signal: string | null }
  | { kind: 'failure'; reason: ExitFailureReason; detail: string | null };

/**
 * Content of an `exit` file for a status: `"<code>\n"`, or `"<128+n> <SIGNAME>\n"` when the
 * process was killed by a signal that the writer observed directly.
 */
export function formatExitCode(code: number | null, signal: string | null = null): string {
  if (signal !== null) {
    const n = signalNumber(signal);
    if (n === undefined) throw new RangeError(`unknown signal ${signal}`);
    return `${128 + n} ${signal}\n`;
  }
  if (code === null || !Number.isInteger(code) || code < 0 || code > 255) {
    throw new RangeError(`exit code must be an integer 0..255, got ${String(code)}`);
  }
  return `${code}\n`;
}

/** Content of an `exit` file for an attempt that never ran its command. */
export function formatExitFailure(reason: ExitFailureReason, detail?: string): string {
  if (detail !== undefined && !/^[A-Za-z0-9_]+$/.test(detail)) throw new RangeError(`bad failure detail ${detail}`);
  return detail === undefined ? `${reason}\n` : `${reason} ${detail}\n`;
}

const CODE_RE = /^(0|[1-9][0-9]{0,2})(?: (SIG[A-Z0-9]+))?\n$/;
const FAILURE_RE = /^(cwd_missing|spawn_failed)(?: ([A-Za-z0-9_]+))?\n$/;
const PADDING_RE = /^ +\n$/;

/**
 * Parses an `exit` file strictly: `<code>[ <SIGNAME>]\n` (code 0..255; with a signal the code
 * must be 128 + its number), `cwd_missing\n`, or `spawn_failed[ <ERRNO>]\n`, optionally followed
 * by blanks (the rest of {@link EXIT_PLACEHOLDER}). Anything else, including an empty or
 * unterminated file and the bare placeholder, yields undefined.
 */
export function parseExitFile(text: string): ExitMarker | undefined {
  // A status written over the pre-allocated placeholder keeps the placeholder's tail: blanks only.
  const nl = text.indexOf('\n');
  if (nl >= 0 && nl < text.length - 1) {
    if (!PADDING_RE.test(text.slice(nl + 1))) return undefined;
    text = text.slice(0, nl + 1);
  }
  const m = CODE_RE.exec(text);
  if (m) {
    const code = Number(m[1]);
    if (code > 255) return undefined;
    const sig = m[2];
    if (sig === undefined) return { kind: 'code', code, signal: null };
    const n = signalNumber(sig);
    if (n === undefined || code !== 128 + n) return undefined;
    return { kind: 'code', code, signal: sig };
  }
  const f = FAILURE_RE.exec(text);
  if (f) return { kind: 'failure', reason: f[1] as ExitFailureReason, detail: f[2] ?? null };
  return undefined;
}

/**
 * Turns a parsed `exit` marker into an {@link ExitInfo}. A plain code of 128+n is reported as
 * signal n (exit code null) only when we asked for the kill (`killRequested`), so that a
 * wrapped attempt killed by us looks like a directly observed one; otherwise a shell's 143 is
 * just exit code 143.
 */
export function exitInfoFromMarker(marker: ExitMarker, killRequested: boolean, endedAt: number): ExitInfo {
  if (marker.kind === 'failure') {
    return { state: 'exited', exitCode: null, signal: null, reason: marker.reason, endedAt };
  }
  if (marker.signal !== null) return { state: 'exited', exitCode: null, signal: marker.signal, endedAt };
  if (killRequested && marker.code > 128) {
    const name = signalName(marker.code - 128);
    if (name !== undefined) return { state: 'exited', exitCode: null, signal: name, endedAt };
  }
  return { state: 'exited', exitCode: marker.code, signal: null, endedAt };
}

/** What `meta` records about an attempt, for {@link parseMetaFile} and recovery. */
export interface RunMeta {
  bootId: string;
  startedAt: number;
  detached: boolean;
}

/** Content of a `meta` file: one JSON line. */
export function formatMetaFile(meta: RunMeta): string {
  return `${JSON.stringify({ bootId: meta.bootId, startedAt: meta.startedAt, detached: meta.detached })}\n`;
}

/** Parses a `meta` file; undefined when absent-looking or malformed. */
export function parseMetaFile(text: string): RunMeta | undefined {
  if (!text.endsWith('\n')) return undefined;
  try {
    const v = JSON.parse(text) as Partial<RunMeta>;
    if (typeof v.bootId !== 'string' || typeof v.startedAt !== 'number' || typeof v.detached !== 'boolean') {
      return undefined;
    }
    return { bootId: v.bootId, startedAt: v.startedAt, detached: v.detached };
  } catch {
    return undefined;
  }
}

/** An {@link ExitInfo} for an attempt that vanished without a status. */
export function lostExit(reason: string, endedAt = Date.now()): ExitInfo {
  return { state: 'lost', exitCode: null, signal: null, reason, endedAt };
}
