import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { BgexecError } from '../errors.js';
import { JsonDirReader } from '../stores/json-dir-reader.js';
import { parseCli, type CommandName } from './args.js';
import * as read from './commands/read.js';
import { send } from './commands/send.js';
import * as serve from './commands/serve.js';
import * as steer from './commands/steer.js';
import type { CliContext } from './context.js';
import { CliError, EXIT, exitCodeOf } from './exit-codes.js';
import { expandIdPrefixes } from './ids.js';
import type { CliIo } from './format.js';
import { USAGE } from './usage.js';

const HANDLERS: Record<CommandName, (ctx: CliContext) => Promise<number>> = {
  ls: read.ls,
  show: read.show,
  logs: read.logs,
  wait: read.wait,
  kill: steer.kill,
  retry: steer.retry,
  priority: steer.priority,
  pause: (ctx) => steer.pauseResume(ctx, 'pause'),
  resume: (ctx) => steer.pauseResume(ctx, 'resume'),
  submit: steer.submit,
  send,
  prune: steer.prune,
  run: serve.run,
  mcp: serve.mcp,
};

// The version of the installed package: package.json sits two levels above dist/cli/ (and src/cli/).
function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

/**
 * Runs the `bgexec` command line `argv` (without `node` and the script) and resolves with the
 * exit code. Results go to `io.out`, messages to `io.err`; nothing here exits the process.
 */
export async function runCli(argv: readonly string[], io: CliIo, signal: AbortSignal): Promise<number> {
  let reader: JsonDirReader | undefined;
  try {
    const parsed = parseCli(argv, io.env);
    if (parsed.version === true) {
      io.out(`${packageVersion()}\n`);
      return EXIT.OK;
    }
    if (parsed.help || parsed.command === undefined) {
      io.out(USAGE);
      return EXIT.OK;
    }
    if (parsed.dir === undefined || parsed.dir === '') throw new CliError(EXIT.USAGE, 'which store? give --dir DIR or set BGEXEC_DIR');
    const dir = resolve(io.cwd, parsed.dir);
    reader = new JsonDirReader({ dir });
    const ctx: CliContext = { io, parsed, dir, reader, signal };
    await expandIdPrefixes(ctx);
    return await HANDLERS[parsed.command](ctx);
  } catch (err) {
    const code = exitCodeOf(err);
    const message = err instanceof CliError || err instanceof BgexecError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err);
    io.err(`bgexec: ${message}\n`);
    if (code === EXIT.USAGE && err instanceof CliError) io.err(`Run 'bgexec --help' for the commands and their options.\n`);
    return code;
  } finally {
    await reader?.close().catch(() => undefined);
  }
}
