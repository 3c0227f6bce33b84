import { hostname, userInfo } from 'node:os';
import type { JsonDirReader } from '../stores/json-dir-reader.js';
import type { ParsedCli } from './args.js';
import { CliError, EXIT } from './exit-codes.js';
import type { CliIo } from './format.js';

/** What every command gets. */
export interface CliContext {
  io: CliIo;
  parsed: ParsedCli;
  /** The store directory (absolute). */
  dir: string;
  /** Read-only view of the store. */
  reader: JsonDirReader;
  /** Aborted on SIGINT/SIGTERM: long commands (`logs -f`, `wait`) end early. */
  signal: AbortSignal;
}

/** The `by` label of this process's requests: who asked, for the records. */
export function requester(command: string): string {
  let user = 'unknown';
  try {
    user = userInfo().username;
  } catch {
    // no passwd entry for this uid: keep "unknown"
  }
  return `bgexec ${command} (user ${user}, pid ${process.pid}, host ${hostname()})`;
}

/** Prints `value` as indented JSON on stdout (the stable `--json` form). */
export function printJson(io: CliIo, value: unknown): void {
  io.out(`${JSON.stringify(value, null, 2)}\n`);
}

/** The "nobody owns this store" error, with the offer to run the tasks here. */
export function noOwner(dir: string, detail?: string): CliError {
  return new CliError(
    EXIT.NO_OWNER,
    `no process owns the store ${dir}${detail ? ` (${detail})` : ''}, so nobody can act on this request.\n` +
      `To run its tasks in this terminal (and serve requests): bgexec run --dir ${shellQuote(dir)}`,
  );
}

/** `word` quoted for a POSIX shell when it needs to be. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
