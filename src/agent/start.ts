import { posix } from 'node:path';
import { isTerminal, type TaskRecord, type TaskSpec } from '../index.js';
import { clamp, durationOf, fail, fromError, type ToolContext } from './context.js';
import { outputBudgetAfter, renderUnread } from './render.js';
import { MIN_TIMEOUT_MS, PRIORITY_RANGE } from './schemas.js';
import type { AgentToolError, BgStartResult } from './types.js';
import { race, watchExits, watchInput } from './waiting.js';

/** Input of `bg_start` after validation. */
export interface StartInput {
  command: string;
  cwd?: string;
  env?: Record<string, string>;
  timeout_ms?: number;
  transport?: string;
  priority?: number;
  wait_ms?: number;
  stdin?: string;
  tty?: boolean;
}

function specOf(ctx: ToolContext, input: StartInput, notes: string[]): TaskSpec {
  const spec: TaskSpec = { ...ctx.defaults, command: input.command };
  // A relative directory is taken from the default one (where a model thinks it is), not from
  // wherever the host process happens to run.
  if (input.cwd !== undefined) spec.cwd = ctx.defaults.cwd && !input.cwd.startsWith('/') ? posix.join(ctx.defaults.cwd, input.cwd) : input.cwd;
  if (input.env !== undefined) spec.env = { ...ctx.defaults.env, ...input.env };
  if (input.timeout_ms !== undefined) spec.timeoutMs = clamp('timeout_ms', input.timeout_ms, MIN_TIMEOUT_MS, ctx.limits.maxTimeoutMs, notes);
  if (input.priority !== undefined) spec.priority = clamp('priority', input.priority, -PRIORITY_RANGE, PRIORITY_RANGE, notes);
  if (ctx.allowedTransports) spec.transport = input.transport ?? ctx.allowedTransports[0]!;
  // "pipe" keeps the input open for bg_write; any other text is the whole input.
  if (input.stdin !== undefined) spec.stdin = input.stdin === 'pipe' ? 'pipe' : { data: input.stdin, encoding: 'utf8' };
  if (input.tty !== undefined) spec.tty = input.tty;
  if (ctx.session !== undefined) spec.session = ctx.session;
  return spec;
}

/** Describes how a task ended, for hints and notices. */
export function endText(record: TaskRecord): string {
  const how =
    record.exitCode !== undefined && record.exitCode !== null
      ? `exit code ${record.exitCode}`
      : record.signal
        ? `signal ${record.signal}`
        : 'no exit code';
  const why = record.reason && record.reason !== record.status ? `, ${record.reason}` : '';
  return `${record.status} (${how}${why})`;
}

/** Handles `bg_start`: submits, waits up to `wait_ms`, reports the result or the running task. */
export async function bgStart(ctx: ToolContext, input: StartInput, signal?: AbortSignal): Promise<BgStartResult | AgentToolError> {
  const notes: string[] = [];
  const spec = specOf(ctx, input, notes);
  const waitMs = clamp('wait_ms', input.wait_ms ?? ctx.limits.defaultStartWaitMs, 0, ctx.limits.maxStartWaitMs, notes);
  let submitted: TaskRecord;
  try {
    submitted = await ctx.ex.submit(spec);
  } catch (err) {
    const e = fromError(err, 'bg_start');
    return e.error === 'failed' ? fail('start_failed', e.message) : e;
  }
  const id = submitted.id;
  // A task that asks for input will not finish by itself: stop waiting then.
  const outcome = await race(ctx, waitMs, signal, (inner, settle) => {
    watchExits(ctx, [id], inner, settle);
    watchInput(ctx, [id], inner, settle);
  });
  const record = outcome.kind === 'exit' ? outcome.record : (ctx.ex.get(id) ?? submitted);
  const result: Omit<BgStartResult, 'hint'> = { ok: true, task_id: id, status: record.status };
  const terminal = isTerminal(record.status);
  if (terminal) {
    result.exit_code = record.exitCode ?? null;
    if (record.signal) result.signal = record.signal;
    if (record.reason) result.reason = record.reason;
    if (record.error) result.error_message = record.error.message;
  }
  const duration = durationOf(record, ctx.clock.now());
  if (duration !== undefined) result.duration_ms = duration;
  const awaiting = !terminal && record.awaitingInput === true;
  if (awaiting) result.awaiting_input = true;
  if (notes.length > 0) result.clamped = notes;
  Object.assign(result, await renderUnread(ctx, record, outputBudgetAfter(ctx, result)).catch(() => ({})));
  let hint: string;
  if (terminal) {
    const more = result.stdout?.truncated || result.stderr?.truncated ? ' Output was capped: bg_read continues at next_cursor.' : '';
    hint = `Finished: ${endText(record)}.${more}`;
    ctx.reported(record);
  } else if (awaiting) {
    hint = inputWantedHint(record);
  } else {
    const state = record.status === 'running' ? 'Running' : `${record.status[0]!.toUpperCase()}${record.status.slice(1)}`;
    const piped = record.spec.stdin === 'pipe' ? ` Its input is open: answer prompts with bg_write {"task_id":"${id}","input":"…\\n"}.` : '';
    hint =
      `${state} in the background as task ${id}. Do not poll: call bg_wait {"task_ids":["${id}"]} to wait for it ` +
      `(until="pattern" to wait for a line such as "ready"), bg_read to see new output, or end your turn and a completion notice will arrive.${piped}`;
  }
  return { ...result, hint };
}

/** What to do about a task that waits for input: answer it, or (if it cannot be answered) kill it. */
export function inputWantedHint(record: TaskRecord): string {
  const id = record.id;
  if (record.spec.stdin === 'pipe') {
    return `Task ${id} is waiting for input (the output above likely ends with its prompt). Answer with bg_write {"task_id":"${id}","input":"…\\n"}; close=true ends its input.`;
  }
  // On a terminal without a pipe, `script` passes the end of its empty input on as one Ctrl-D:
  // the first line read gets end-of-file, but a program that reads again, or flushes the
  // terminal's input first (a REPL with line editing, getpass), waits for input that never comes.
  if (record.spec.tty !== undefined) {
    return `Task ${id} is waiting for input on its terminal, but it was started with tty and without stdin "pipe": nothing can be written to it (its terminal gave it one end-of-file and nothing more), so it waits for ever. bg_kill it and start it again with tty and stdin "pipe" to type into the terminal with bg_write (or give the input up front as stdin text).`;
  }
  return `Task ${id} seems to wait for input, but it was not started with stdin "pipe", so nothing can be written to it. bg_kill it and start it again with stdin "pipe" (or give the input up front as stdin text).`;
}
