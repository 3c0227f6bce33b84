import { signalName } from '../job-protocol/markers.js';

// Wire format between LocalTransport and the spawn helper (script.ts describes both directions).
// Values go to the helper as NUL-terminated fields of a length-prefixed frame, never as shell
// text: a command, argument, cwd or environment value can hold quotes, `$`, newlines, anything
// but NUL (which findLaunchProblem refuses before a request is built).

/** One frame: `"<payload bytes>\n"` then the payload, each field followed by a NUL byte. */
export function encodeFrame(fields: readonly string[]): Buffer {
  const payload = Buffer.from(`${fields.join('\0')}\0`, 'utf8');
  return Buffer.concat([Buffer.from(`${payload.length}\n`, 'latin1'), payload]);
}

/** What the helper is asked to start. */
export interface HelperLaunch {
  /** Run directory to claim with a non-recursive mkdir (its creation is the start's claim). */
  runDir: string;
  /** Absolute working directory, or undefined to inherit the helper's. */
  cwd: string | undefined;
  /** Per-stream cap in bytes; undefined or Infinity: none. */
  maxOutputBytes: number | undefined;
  /** Variables set over the base environment (the task's own and the attempt's markers). */
  env: Readonly<Record<string, string>>;
  /** Program and arguments, executed with a PATH search of the task's environment. */
  argv: readonly string[];
  /** Standard input: absent for `/dev/null`, `pipe` for a held FIFO, bytes for a data file. */
  input?: 'pipe' | Uint8Array;
  /**
   * Nobody will ever recover this attempt (see `LaunchRequest.recoverable`): no pid file, no
   * exit marker, and the run directory is created only when a file must go into it (first
   * output byte; at once for input).
   */
  volatile?: boolean;
}

/** The `S` request of a launch, or `I` for one with standard input. */
export function startFrame(serial: number, launch: HelperLaunch): Buffer {
  const env = Object.entries(launch.env).map(([k, v]) => `${k}=${v}`);
  const limit = launch.maxOutputBytes === undefined || !Number.isFinite(launch.maxOutputBytes) ? '' : String(launch.maxOutputBytes);
  const { input } = launch;
  const flags = launch.volatile === true ? 'v' : '';
  if (input === undefined) return encodeFrame(['S', String(serial), launch.runDir, launch.cwd ?? '', limit, flags, String(env.length), ...env, ...launch.argv]);
  // Bytes travel as hex: a frame field cannot hold a NUL, and Perl decodes hex with a core pack().
  const field = input === 'pipe' ? 'p' : `d${Buffer.from(input.buffer, input.byteOffset, input.byteLength).toString('hex')}`;
  return encodeFrame(['I', String(serial), launch.runDir, launch.cwd ?? '', limit, flags, field, String(env.length), ...env, ...launch.argv]);
}

/** The `B` request: the environment every task starts from. */
export function baseEnvFrame(env: Readonly<Record<string, string | undefined>>): Buffer {
  const entries: string[] = [];
  for (const [k, v] of Object.entries(env)) {
    // A name with `=` or a NUL anywhere cannot be an environment entry (Node would drop it too).
    if (v !== undefined && k !== '' && !k.includes('=') && !k.includes('\0') && !v.includes('\0')) entries.push(`${k}=${v}`);
  }
  return encodeFrame(['B', ...entries]);
}

/** An event line of the helper, parsed. */
export type HelperEvent =
  | { kind: 'ready'; pid: number; forkerPid: number }
  | { kind: 'started'; serial: number; pid: number }
  | { kind: 'failed'; serial: number; reason: string; errno: string }
  | { kind: 'exited'; serial: number; status: number; alone: boolean }
  | { kind: 'ended'; serial: number; markerWritten: boolean; runDirCreated: boolean; stdoutBytes: number; stderrBytes: number; limitReached: boolean };

/** Parses one event line (without its newline); undefined for anything malformed. */
export function parseEvent(line: string): HelperEvent | undefined {
  const f = line.split(' ');
  const n = (i: number): number => Number(f[i]);
  switch (f[0]) {
    case 'READY':
      return f.length === 3 ? { kind: 'ready', pid: n(1), forkerPid: n(2) } : undefined;
    case 'S':
      return f.length === 3 ? { kind: 'started', serial: n(1), pid: n(2) } : undefined;
    case 'F':
      return f.length === 4 ? { kind: 'failed', serial: n(1), reason: f[2]!, errno: f[3]! } : undefined;
    case 'X':
      return f.length === 4 ? { kind: 'exited', serial: n(1), status: n(2), alone: f[3] === '1' } : undefined;
    case 'E':
      return f.length === 6
        ? { kind: 'ended', serial: n(1), markerWritten: f[2] === 'ok', runDirCreated: f[2] !== 'none', stdoutBytes: n(3), stderrBytes: n(4), limitReached: f[5] === '1' }
        : undefined;
    default:
      return undefined;
  }
}

/**
 * Decodes a Linux wait status (as Perl's `$?` carries it): low 7 bits the terminating signal
 * (0: a normal exit), bits 8–15 the exit code.
 */
export function decodeWaitStatus(status: number): { exitCode: number | null; signal: string | null } {
  const sig = status & 0x7f;
  if (sig === 0) return { exitCode: (status >> 8) & 0xff, signal: null };
  const name = signalName(sig);
  // A signal without a name here (real-time ones) reads as the shell would report it.
  return name === undefined ? { exitCode: 128 + sig, signal: null } : { exitCode: null, signal: name };
}
