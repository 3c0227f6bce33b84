import { WaitTimeoutError } from '../../errors.js';
import { listRecords } from '../../executor-queries.js';
import { MAX_READ_BYTES } from '../../output/read.js';
import { isTerminal, type TaskFilter, type TaskRecord } from '../../task.js';
import { durationArg, intArg, listArg } from '../args.js';
import { printJson, shellQuote, type CliContext } from '../context.js';
import { CliError, EXIT, waitExitCode } from '../exit-codes.js';
import { commandLine, duration, exitText, paint, printable, relative, runTime, statusText, table } from '../format.js';

// Reads of a whole stream go in slices of this size, written out as they come.
const CHUNK_BYTES = 1024 * 1024;

/** Warns (stderr) when unfinished tasks have nobody to run them. */
async function noteOwnerless(ctx: CliContext, records: readonly TaskRecord[]): Promise<void> {
  if (!records.some((r) => !isTerminal(r.status))) return;
  const owner = await ctx.reader.owner();
  if (owner?.alive) return;
  ctx.io.err(
    paint(ctx.io, 'yellow', `note: no process owns ${ctx.dir}${owner ? ` (its last owner, pid ${owner.pid}, is gone)` : ''}: `) +
      `unfinished tasks will not progress until one does (bgexec run --dir ${shellQuote(ctx.dir)})\n`,
  );
}

/**
 * While a command waits on tasks, says once (stderr) when the store's owner goes away: the
 * tasks then stand still until an owner runs again, and the wait goes on (Ctrl-C ends it).
 */
function watchOwner(ctx: CliContext, intervalMs = 2000): () => void {
  let said = false;
  let checking = false;
  const timer = setInterval(() => {
    if (said || checking) return;
    checking = true;
    void ctx.reader
      .owner()
      .then((owner) => {
        if (owner?.alive || said) return;
        said = true;
        ctx.io.err(
          paint(ctx.io, 'yellow', `note: the owner of ${ctx.dir}${owner ? ` (pid ${owner.pid})` : ''} has gone: `) +
            `tasks stand still until one runs again (bgexec run --dir ${shellQuote(ctx.dir)}); still waiting, Ctrl-C stops\n`,
        );
      })
      .catch(() => undefined)
      .finally(() => {
        checking = false;
      });
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

/** `ls`: the tasks of the store as a table (or `--json`: an array of records). */
export async function ls(ctx: CliContext): Promise<number> {
  const { io, parsed } = ctx;
  const v = parsed.values;
  const statuses = listArg(v.status);
  const filter: TaskFilter = {
    ...(statuses.length > 0 ? { status: statuses as TaskFilter['status'] } : {}),
    ...(typeof v.group === 'string' ? { group: v.group } : {}),
    ...(typeof v.session === 'string' ? { session: v.session } : {}),
    ...(listArg(v.tag).length > 0 ? { tags: listArg(v.tag) } : {}),
  };
  const { records: all, skipped } = await ctx.reader.snapshot();
  const limit = intArg('limit', v.limit, 0);
  let records = listRecords(all, filter);
  // The newest are the interesting ones: a limit keeps the last N, still oldest first.
  if (limit !== undefined) records = limit === 0 ? [] : records.slice(-limit);
  if (parsed.json) {
    printJson(io, records);
  } else if (records.length === 0) {
    io.err(all.length === 0 ? `no tasks in ${ctx.dir}\n` : 'no task matches\n');
  } else {
    const now = io.now();
    const rows = records.map((r) => [
      r.id,
      statusText(io, r.status),
      exitText(r),
      String(r.spec.priority ?? 0),
      r.spec.group === undefined ? '-' : printable(r.spec.group),
      relative(now, r.createdAt),
      runTime(now, r),
      commandLine(r),
    ]);
    io.out(table(['ID', 'STATUS', 'EXIT', 'PRI', 'GROUP', 'CREATED', 'TIME', 'COMMAND'], rows, io.columns));
  }
  for (const s of skipped) io.err(`note: ${s.name} left out: ${s.reason}\n`);
  if (!parsed.json) await noteOwnerless(ctx, all);
  return EXIT.OK;
}

async function mustGet(ctx: CliContext, id: string): Promise<TaskRecord> {
  const record = await ctx.reader.get(id);
  if (!record) throw new CliError(EXIT.NOT_FOUND, `no task ${JSON.stringify(id)} in ${ctx.dir}`);
  return record;
}

/** `show ID`: one record in full, with its attempts (or `--json`: the record). */
export async function show(ctx: CliContext): Promise<number> {
  const { io } = ctx;
  const r = await mustGet(ctx, ctx.parsed.positionals[0]!);
  if (ctx.parsed.json) {
    printJson(io, r);
    return EXIT.OK;
  }
  const now = io.now();
  const when = (at: number | undefined): string => (at === undefined ? '-' : `${new Date(at).toISOString()} (${relative(now, at)})`);
  const lines: Array<[string, string | undefined]> = [
    ['id', r.id],
    ['status', statusText(io, r.status)],
    ['command', commandLine(r)],
    ['cwd', r.spec.cwd],
    ['transport', r.spec.transport],
    ['priority', String(r.spec.priority ?? 0)],
    ['group', r.spec.group],
    ['session', r.spec.session],
    ['tags', r.spec.tags?.join(', ')],
    ['attempt', r.spec.retry ? `${r.attempt} of ${r.spec.retry.attempts}` : String(r.attempt)],
    ['created', when(r.createdAt)],
    ['runs at', r.runAt === undefined ? undefined : when(r.runAt)],
    ['started', r.startedAt === undefined ? undefined : when(r.startedAt)],
    ['ended', r.endedAt === undefined ? undefined : when(r.endedAt)],
    ['time', r.startedAt === undefined ? undefined : runTime(now, r)],
    ['timeout', r.spec.timeoutMs === undefined ? undefined : duration(r.spec.timeoutMs)],
    ['exit', r.exitCode === undefined && !r.signal ? undefined : exitText(r)],
    ['reason', r.reason],
    ['cancelled by', r.cancelledBy],
    ['error', r.error ? `${r.error.code}: ${r.error.message}` : undefined],
    ['note', r.note],
    ['output', `${r.stdoutBytes} bytes stdout, ${r.stderrBytes} bytes stderr`],
  ];
  const width = Math.max(...lines.map(([k]) => k.length));
  // Every value but the coloured status came from the record: none may reach the terminal raw.
  for (const [k, value] of lines) {
    if (value !== undefined) io.out(`${paint(io, 'bold', k.padEnd(width))}  ${k === 'status' ? value : printable(value)}\n`);
  }
  if (r.history.length > 0) {
    io.out('\n');
    const rows = r.history.map((h) => [String(h.attempt), statusText(io, h.status), exitText(h), duration(h.endedAt - h.startedAt), h.reason === undefined ? '-' : printable(h.reason), relative(now, h.endedAt)]);
    io.out(table(['ATTEMPT', 'STATUS', 'EXIT', 'TIME', 'REASON', 'ENDED'], rows, io.columns));
  }
  return EXIT.OK;
}

/** `logs ID`: a task's output; `-f` follows it until the task ends. */
export async function logs(ctx: CliContext): Promise<number> {
  const { io, parsed, reader } = ctx;
  const id = parsed.positionals[0]!;
  const v = parsed.values;
  const stream = v.stderr === true ? 'stderr' : 'stdout';
  const tail = intArg('tail', v.tail, 0);
  const head = intArg('head', v.head, 0);
  const attempt = intArg('attempt', v.attempt, 1);
  if (tail !== undefined && head !== undefined) throw new CliError(EXIT.USAGE, '--tail and --head exclude each other');
  const record = await mustGet(ctx, id);
  if (v.follow === true) {
    if (head !== undefined || attempt !== undefined) throw new CliError(EXIT.USAGE, '-f follows the latest attempt from its start (or from --tail N lines): no --head or --attempt');
    return follow(ctx, record, stream, tail);
  }
  const base = { stream, ...(attempt !== undefined ? { attempt } : {}) } as const;
  if (tail !== undefined || head !== undefined || parsed.json) {
    const read = await reader.readOutput(id, { ...base, maxBytes: MAX_READ_BYTES, ...(tail !== undefined ? { tail } : {}), ...(head !== undefined ? { head } : {}) });
    if (parsed.json) printJson(io, read);
    else io.out(read.text);
    return EXIT.OK;
  }
  // The whole stream as it is now, slice by slice; bounded by its size at the first read.
  let cursor = 0;
  let total = Infinity;
  for (let i = 0; cursor < total && i < 1 + MAX_READ_BYTES; i++) {
    const read = await reader.readOutput(id, { ...base, cursor, maxBytes: CHUNK_BYTES });
    if (total === Infinity) total = read.totalBytes;
    io.out(read.text);
    await io.flush?.();
    if (read.nextCursor <= cursor) break;
    cursor = read.nextCursor;
  }
  return EXIT.OK;
}

async function follow(ctx: CliContext, record: TaskRecord, stream: 'stdout' | 'stderr', tail: number | undefined): Promise<number> {
  const { io, reader, parsed } = ctx;
  await noteOwnerless(ctx, [record]);
  let cursor = 0;
  if (tail !== undefined) {
    const read = await reader.readOutput(record.id, { stream, tail, maxBytes: MAX_READ_BYTES });
    io.out(parsed.json ? `${JSON.stringify({ stream, attempt: read.attempt, text: read.text, cursor: read.cursor, nextCursor: read.nextCursor })}\n` : read.text);
    cursor = read.nextCursor;
  }
  let attempt = record.attempt;
  const stopWatching = (await ctx.reader.owner())?.alive ? watchOwner(ctx) : () => undefined;
  try {
    for await (const chunk of reader.follow(record.id, { stream, cursor, signal: ctx.signal })) {
      if (parsed.json) {
        io.out(`${JSON.stringify(chunk)}\n`);
        continue;
      }
      // A retry starts its output again: say where one attempt's output ends.
      if (chunk.attempt !== attempt && attempt !== 0) io.err(paint(io, 'dim', `--- attempt ${chunk.attempt} ---\n`));
      attempt = chunk.attempt;
      io.out(chunk.text);
      await io.flush?.();
    }
  } catch (err) {
    if (ctx.signal.aborted) return 130;
    throw err;
  } finally {
    stopWatching();
  }
  const end = await reader.get(record.id);
  if (end && !parsed.json) io.err(paint(io, 'dim', `--- ${end.status}${end.exitCode !== undefined || end.signal ? ` (exit ${exitText(end)})` : ''} ---\n`));
  return EXIT.OK;
}

/** `wait ID...`: until every task has ended; the exit code is the first failing task's. */
export async function wait(ctx: CliContext): Promise<number> {
  const { io, parsed, reader } = ctx;
  const timeoutMs = durationArg('timeout', parsed.values.timeout);
  const deadline = timeoutMs === undefined ? undefined : Date.now() + timeoutMs;
  const first = await Promise.all(parsed.positionals.map((id) => mustGet(ctx, id)));
  await noteOwnerless(ctx, first);
  const stopWatching = (await reader.owner())?.alive ? watchOwner(ctx) : () => undefined;
  const done: TaskRecord[] = [];
  try {
    for (const record of first) {
      try {
        const remaining = deadline === undefined ? undefined : Math.max(0, deadline - Date.now());
        done.push(await reader.wait(record.id, { signal: ctx.signal, ...(remaining !== undefined ? { timeoutMs: remaining } : {}) }));
      } catch (err) {
        if (ctx.signal.aborted) return 130;
        if (err instanceof WaitTimeoutError) throw new CliError(EXIT.WAIT_TIMEOUT, `task ${record.id} did not end within ${duration(timeoutMs ?? 0)}`);
        throw err;
      }
    }
  } finally {
    stopWatching();
  }
  if (parsed.json) printJson(io, done);
  else {
    const now = io.now();
    const rows = done.map((r) => [r.id, statusText(io, r.status), exitText(r), runTime(now, r), commandLine(r)]);
    io.out(table(['ID', 'STATUS', 'EXIT', 'TIME', 'COMMAND'], rows, io.columns));
  }
  for (const r of done) {
    const code = waitExitCode(r);
    if (code !== 0) return code;
  }
  return EXIT.OK;
}
