import { Buffer } from 'node:buffer';
import { BgexecError, isTerminal, type TaskRecord } from '../index.js';
import { clamp, durationOf, fail, fromError, unknownTask, type ToolContext } from './context.js';
import { outputBudgetAfter, renderUnread } from './render.js';
import { endText, inputWantedHint } from './start.js';
import type { AgentToolError, BgWriteResult } from './types.js';
import { race, watchExits, watchReply } from './waiting.js';

/** Input of `bg_write` after validation. */
export interface WriteInput {
  task_id: string;
  input: string;
  close?: boolean;
  wait_ms?: number;
}

/**
 * Output that then pauses this long (on the tools' clock) is taken as the whole reply. A few of
 * the executor's output polls (100 ms by default), so that a reply printed in parts comes whole.
 */
export const REPLY_QUIET_MS = 300;

// Said when input without a line end got no reply.
const NO_NEWLINE =
  'Your input did not end with a newline: a program that reads a line waits for the rest of it. Send "\\n" (Enter) with bg_write to finish the line.';

// The executor's refusal, as advice for the model; nothing was written in any of these cases.
function refusal(ctx: ToolContext, err: unknown, id: string, what: string): AgentToolError {
  if (!(err instanceof BgexecError)) return fromError(err, 'bg_write');
  const record = ctx.ex.get(id);
  switch (err.code) {
    case 'TASK_NOT_RUNNING':
      if (record && isTerminal(record.status)) {
        return fail('input_refused', `bg_write: task ${id} has already ended: ${endText(record)}. ${what} Its output stays readable with bg_read.`);
      }
      return fail(
        'input_refused',
        `bg_write: task ${id} is ${record?.status ?? 'not running'}, not running yet. ${what} Wait until it runs (bg_wait with until="pattern" for its first line) and write again.`,
      );
    case 'STDIN_NOT_PIPED':
      return fail(
        'input_refused',
        `bg_write: task ${id} was not started with stdin "pipe", so its input cannot be written. ${what} Start the command again with bg_start and stdin: "pipe" (bg_kill this one if it hangs).`,
      );
    case 'STDIN_CLOSED':
      return fail('input_refused', `bg_write: the input of task ${id} was closed (close=true earlier). ${what} Nothing more can be sent to it.`);
    case 'STDIN_FULL':
      return fail(
        'input_refused',
        `bg_write: task ${id} is not reading its input: earlier input (up to 1 MiB) still waits for it. ${what} Wait for it (bg_wait) and write again, in smaller parts.`,
      );
    default:
      return fromError(err, 'bg_write');
  }
}

function bytesSeen(record: TaskRecord | undefined): number {
  return record ? record.stdoutBytes + record.stderrBytes : 0;
}

/**
 * Handles `bg_write`: writes the input (and closes it, with `close`), then waits up to `wait_ms`
 * for the reply: the task's end, its next request for input, or output that then pauses. The
 * result carries what the model has not seen of the output, within the budget.
 */
export async function bgWrite(ctx: ToolContext, input: WriteInput, signal?: AbortSignal): Promise<BgWriteResult | AgentToolError> {
  const own = ctx.own(input.task_id);
  if (!own) return unknownTask(input.task_id);
  const id = own.id;
  const ex = ctx.ex;
  if (!ex.write || !ex.closeStdin) return fail('input_refused', 'bg_write: this executor cannot write to tasks. Give input up front with bg_start stdin text instead.');
  const close = input.close === true;
  if (input.input === '' && !close) {
    return fail('invalid_input', 'bg_write: input is "" and close is not true, so there is nothing to do. Send text (end a line with a newline) or close=true.');
  }
  const notes: string[] = [];
  const waitMs = clamp('wait_ms', input.wait_ms ?? ctx.limits.defaultWriteWaitMs, 0, ctx.limits.maxStartWaitMs, notes);
  const before = bytesSeen(ex.get(id));
  const t0 = ctx.clock.now();
  if (input.input !== '') {
    try {
      await ex.write(id, input.input);
    } catch (err) {
      return refusal(ctx, err, id, 'Nothing was written.');
    }
  }
  if (close) {
    try {
      await ex.closeStdin(id);
    } catch (err) {
      return refusal(ctx, err, id, input.input === '' ? 'Nothing was done.' : 'The input was written, but not closed.');
    }
  }
  const outcome = await race(ctx, waitMs, signal, (inner, settle) => {
    watchExits(ctx, [id], inner, settle);
    watchReply(ctx, id, REPLY_QUIET_MS, before, inner, settle);
  });
  const record = outcome.kind === 'exit' ? outcome.record : (ex.get(id) ?? own);
  const terminal = isTerminal(record.status);
  const result: Omit<BgWriteResult, 'hint'> = {
    ok: true, task_id: id, status: record.status, bytes_written: Buffer.byteLength(input.input), waited_ms: Math.max(0, ctx.clock.now() - t0),
  };
  if (close) result.closed = true;
  const awaiting = !terminal && record.awaitingInput === true;
  if (awaiting) result.awaiting_input = true;
  if (terminal) {
    result.exit_code = record.exitCode ?? null;
    if (record.signal) result.signal = record.signal;
    if (record.reason) result.reason = record.reason;
  }
  const duration = durationOf(record, ctx.clock.now());
  if (duration !== undefined) result.duration_ms = duration;
  if (notes.length > 0) result.clamped = notes;
  Object.assign(result, await renderUnread(ctx, record, outputBudgetAfter(ctx, result)).catch(() => ({})));
  const capped = result.stdout?.truncated || result.stderr?.truncated ? ' Output was capped: bg_read continues at next_cursor.' : '';
  // A line without its end gets no reply: the program still waits for it (awaiting input,
  // nothing printed, or on a terminal only the echo of what was typed).
  const grown = bytesSeen(record) - before;
  const echoOnly = grown > 0 && grown === Buffer.byteLength(input.input) && (result.stdout?.text ?? '').endsWith(input.input);
  const unanswered = awaiting || grown <= 0 || echoOnly;
  const line = !terminal && !close && input.input !== '' && !/[\n\r]$/.test(input.input) && unanswered ? `${NO_NEWLINE} ` : '';
  let hint: string;
  if (terminal) {
    hint = `Task ${id} ${endText(record)}.${capped}`;
    ctx.reported(record);
  } else if (awaiting) {
    hint = `${line}${inputWantedHint(record)}${capped}`;
  } else if (result.stdout?.text || result.stderr?.text) {
    hint =
      `${line}Task ${id} is running; the output above is what it printed since your last read.${capped} ` +
      `bg_write to send more, bg_wait to wait for its end (or for a line, with until="pattern").`;
  } else {
    hint = `No output from task ${id} within ${waitMs} ms; it is still running. ${line}bg_wait or bg_read to see what it does next.`;
  }
  return { ...result, hint };
}
