import { readdir } from 'node:fs/promises';
import { BgexecError } from '../../errors.js';
import { BackgroundExecutor } from '../../executor.js';
import { PriorityScheduler } from '../../scheduler/priority.js';
import { JsonDirStore } from '../../stores/json-dir.js';
import { durationArg, intArg } from '../args.js';
import type { CliContext } from '../context.js';
import { CliError, EXIT } from '../exit-codes.js';
import { commandLine, exitText, paint, printable, statusText } from '../format.js';

function untilAborted(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

// Takes the store; a store another process owns is the one case worth its own message.
async function own(ctx: CliContext, executor: BackgroundExecutor): Promise<void> {
  try {
    await executor.start();
  } catch (err) {
    if (err instanceof BgexecError && err.code === 'STORE_LOCKED') {
      throw new CliError(EXIT.ERROR, `${err.message}\nIt is already owned: use the other commands (ls, logs, kill, submit, …) against it instead.`);
    }
    throw err;
  }
}

/**
 * A new store may be made in a missing or empty directory; one that holds other files and no
 * `tasks/` is somebody else's directory (a typo in `--dir`), and gets no store mixed into it.
 */
async function refuseForeignDirectory(dir: string): Promise<void> {
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch {
    return; // missing (created by the store) or unreadable (the store says why)
  }
  if (entries.length > 0 && !entries.includes('tasks')) {
    throw new CliError(EXIT.ERROR, `${dir} is not a bgexec store (no tasks/ directory) and is not empty: refusing to create a store in it`);
  }
}

/**
 * `run`: owns the store in this process and runs its tasks (and serves requests) until
 * SIGINT/SIGTERM (then kills what runs) or, with `--exit-when-idle`, until nothing is left.
 */
export async function run(ctx: CliContext): Promise<number> {
  const { io } = ctx;
  await refuseForeignDirectory(ctx.dir);
  const v = ctx.parsed.values;
  const concurrency = intArg('concurrency', v.concurrency, 1);
  const graceMs = durationArg('grace', v.grace) ?? 5000;
  const executor = new BackgroundExecutor({
    store: new JsonDirStore({ dir: ctx.dir }),
    ...(concurrency !== undefined ? { scheduler: new PriorityScheduler({ concurrency }) } : {}),
  });
  executor.on('task:started', (e) => io.err(`${paint(io, 'dim', new Date(e.at).toISOString())} ${e.taskId} ${statusText(io, 'running')} (attempt ${e.attempt}) ${commandLine(e.record)}\n`));
  executor.on('task:settled', (e) => io.err(`${paint(io, 'dim', new Date(e.at).toISOString())} ${e.taskId} ${statusText(io, e.record.status)} (exit ${exitText(e.record)})\n`));
  executor.on('error', (e) => io.err(`bgexec: ${e.error.code}: ${printable(e.error.message)}\n`));
  await own(ctx, executor);
  io.err(`bgexec: running the tasks of ${ctx.dir} as pid ${process.pid}${v['exit-when-idle'] === true ? ' until none is left' : '; Ctrl-C stops it and kills what runs'}\n`);
  // The executor's timers do not hold the process open; this does, until the end.
  const keepAlive = setInterval(() => undefined, 2 ** 30);
  try {
    if (v['exit-when-idle'] === true) await Promise.race([executor.onIdle(), untilAborted(ctx.signal)]);
    else await untilAborted(ctx.signal);
  } finally {
    clearInterval(keepAlive);
  }
  await executor.shutdown({ mode: 'kill', graceMs });
  return EXIT.OK;
}

/**
 * `mcp`: serves the agent tools (`bg_start`, `bg_read`, …) for this store over MCP on stdio,
 * owning the store, until stdin closes.
 */
export async function mcp(ctx: CliContext): Promise<number> {
  const v = ctx.parsed.values;
  const maxOutputChars = intArg('max-output-chars', v['max-output-chars'], 1024) ?? 16_384;
  const maxWaitMs = durationArg('max-wait', v['max-wait']) ?? 50_000;
  const timeoutMs = durationArg('timeout', v.timeout) ?? 60 * 60 * 1000;
  const { serveMcpStdio } = await import('../../mcp/serve-stdio.js');
  const executor = new BackgroundExecutor({ store: new JsonDirStore({ dir: ctx.dir }) });
  await own(ctx, executor);
  let closed!: () => void;
  const done = new Promise<void>((resolve) => (closed = resolve));
  // serveMcpStdio shuts the executor down (mode kill) when the host leaves, then calls onClosed.
  const server = await serveMcpStdio(executor, {
    session: typeof v.session === 'string' ? v.session : 'mcp',
    maxOutputChars,
    strict: v.strict === true,
    defaults: { timeoutMs, cwd: ctx.io.cwd },
    limits: { maxWaitMs, maxStartWaitMs: Math.min(20_000, maxWaitMs) },
    onClosed: () => closed(),
  });
  ctx.io.err(`bgexec: MCP server ready for ${ctx.dir} (session ${server.session}, ${server.tools.length} tools)\n`);
  await done;
  return EXIT.OK;
}
