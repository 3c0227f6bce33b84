import { BgexecError } from '../errors.js';
import type { TaskRecord } from '../task.js';

/**
 * Exit codes of the `bgexec` command (docs/cli.md). `wait` exits with the task's own code
 * instead (see {@link waitExitCode}).
 */
export const EXIT = {
  /** Done as asked. */
  OK: 0,
  /** Anything else went wrong (store unreadable, unexpected error). */
  ERROR: 1,
  /** Bad command line. */
  USAGE: 2,
  /** The command needs the store's owner (an executor holding it) and none runs. */
  NO_OWNER: 3,
  /** No such task. */
  NOT_FOUND: 4,
  /** The owner refused the request (the message says why). */
  REFUSED: 5,
  /** The owner did not answer in time. */
  NO_ANSWER: 6,
  /** `wait --timeout` ran out before the task ended. */
  WAIT_TIMEOUT: 124,
  /** `wait`: the task ended without an exit code (cancelled before it ran, lost, spawn failure). */
  NO_EXIT_CODE: 125,
} as const;

const SIGNALS: Record<string, number> = {
  SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGILL: 4, SIGTRAP: 5, SIGABRT: 6, SIGBUS: 7, SIGFPE: 8, SIGKILL: 9,
  SIGUSR1: 10, SIGSEGV: 11, SIGUSR2: 12, SIGPIPE: 13, SIGALRM: 14, SIGTERM: 15,
};

/**
 * The exit code `wait` reports for a terminal record, the way a shell would: its exit code,
 * 128 + the signal number when a signal ended it, {@link EXIT.NO_EXIT_CODE} when it has neither.
 */
export function waitExitCode(record: Pick<TaskRecord, 'exitCode' | 'signal'>): number {
  if (typeof record.exitCode === 'number') return record.exitCode;
  const n = record.signal ? SIGNALS[record.signal] : undefined;
  return n === undefined ? EXIT.NO_EXIT_CODE : 128 + n;
}

/** A problem the command reports with a message and an exit code. */
export class CliError extends Error {
  /** The process's exit code. */
  readonly exitCode: number;
  constructor(exitCode: number, message: string) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}

/** The exit code for an error thrown while running a command. */
export function exitCodeOf(err: unknown): number {
  if (err instanceof CliError) return err.exitCode;
  if (err instanceof BgexecError) {
    if (err.code === 'INVALID_ARGUMENT' || err.code === 'INVALID_SPEC') return EXIT.USAGE;
    if (err.code === 'NOT_FOUND') return EXIT.NOT_FOUND;
  }
  return EXIT.ERROR;
}
