import { isTerminal, type TaskRecord } from '../index.js';
import { clamp, fail, fromError, unknownTask, type ToolContext } from './context.js';
import { compilePattern, grepRead, lineMatches } from './grep.js';
import { renderView } from './render.js';
import { MAX_TAIL_LINES, MIN_READ_BYTES } from './schemas.js';
import { endText } from './start.js';
import type { AgentToolError, BgReadResult } from './types.js';

/** Input of `bg_read` after validation. */
export interface ReadInput {
  task_id: string;
  cursor?: number;
  max_bytes?: number;
  tail_lines?: number;
  grep?: string;
  stream?: 'stdout' | 'stderr';
}

type Body = Pick<BgReadResult, 'attempt' | 'text' | 'cursor' | 'next_cursor' | 'total_bytes' | 'eof' | 'truncated' | 'omitted_bytes' | 'grep'>;

async function tailBody(ctx: ToolContext, input: ReadInput, from: number, budget: number, re: RegExp | undefined, notes: string[]): Promise<Body> {
  const lines = clamp('tail_lines', input.tail_lines!, 1, MAX_TAIL_LINES, notes);
  const stream = input.stream ?? 'stdout';
  const t = await ctx.ex.readOutput(input.task_id, { stream, tail: lines, maxBytes: budget });
  const omitted = Math.max(0, t.cursor - from);
  let text = t.text;
  let grep: Body['grep'];
  if (re) {
    const all = text.split('\n');
    if (all[all.length - 1] === '') all.pop();
    const kept = all.filter((l) => lineMatches(re, l));
    text = kept.map((l) => `${l}\n`).join('');
    grep = { pattern: input.grep!, lines_read: all.length, lines_matched: kept.length, lines_filtered: all.length - kept.length };
  }
  return {
    attempt: t.attempt,
    text,
    cursor: t.cursor,
    next_cursor: t.nextCursor,
    total_bytes: t.totalBytes,
    eof: t.eof,
    truncated: t.truncated,
    omitted_bytes: omitted,
    ...(grep ? { grep } : {}),
  };
}

function hintFor(record: TaskRecord, body: Body, from: number): string | undefined {
  if (body.omitted_bytes > 0 && body.grep === undefined && body.next_cursor >= body.total_bytes) {
    return `Last lines only: ${body.omitted_bytes} earlier bytes were not shown (bg_read with cursor=${from} reads them).`;
  }
  if (body.truncated) return `More output follows: call bg_read again (it continues at next_cursor=${body.next_cursor}).`;
  if (body.eof && isTerminal(record.status)) return `End of output. The task ${endText(record)}.`;
  if (!isTerminal(record.status)) {
    return 'No more output yet. Do not poll: call bg_wait (until="pattern" to wait for a specific line) or end your turn; a completion notice will arrive.';
  }
  return undefined;
}

/** Handles `bg_read`: a cursor read within the budget, a tail, or a grep that never skips output. */
export async function bgRead(ctx: ToolContext, input: ReadInput): Promise<BgReadResult | AgentToolError> {
  const record = ctx.own(input.task_id);
  if (!record) return unknownTask(input.task_id);
  const stream = input.stream ?? 'stdout';
  const notes: string[] = [];
  const budget = clamp('max_bytes', input.max_bytes ?? ctx.maxOutputBytes, MIN_READ_BYTES, ctx.maxOutputBytes, notes);
  const from = input.cursor === undefined ? ctx.lastCursor(record, stream) : clamp('cursor', input.cursor, 0, Number.MAX_SAFE_INTEGER, notes);
  let re: RegExp | undefined;
  if (input.grep !== undefined) {
    const compiled = compilePattern(input.grep);
    if (typeof compiled === 'string') return fail('invalid_input', `bg_read: grep is an ${compiled}. Fix it and call bg_read again.`);
    re = compiled;
  }
  let body: Body;
  try {
    if (input.tail_lines !== undefined) {
      body = await tailBody(ctx, input, from, budget, re, notes);
    } else if (re) {
      const g = await grepRead(ctx.ex, record.id, stream, from, budget, re);
      body = {
        attempt: g.attempt,
        text: g.text,
        cursor: g.cursor,
        next_cursor: g.nextCursor,
        total_bytes: g.totalBytes,
        eof: g.eof,
        truncated: g.nextCursor < g.totalBytes,
        omitted_bytes: 0,
        grep: { pattern: input.grep!, lines_read: g.linesRead, lines_matched: g.linesMatched, lines_filtered: g.linesRead - g.linesMatched },
      };
    } else {
      body = await renderView(ctx.ex, record.id, stream, from, budget, notes);
    }
  } catch (err) {
    return fromError(err, 'bg_read');
  }
  ctx.remember(record.id, stream, body.attempt, body.next_cursor);
  const now = ctx.ex.get(record.id) ?? record;
  const result: BgReadResult = {
    ok: true,
    task_id: record.id,
    status: now.status,
    ...(isTerminal(now.status) ? { exit_code: now.exitCode ?? null } : {}),
    stream,
    attempt: body.attempt,
    cursor: body.cursor,
    next_cursor: body.next_cursor,
    total_bytes: body.total_bytes,
    eof: body.eof,
    truncated: body.truncated,
    omitted_bytes: body.omitted_bytes,
    ...(body.grep ? { grep: body.grep } : {}),
    text: body.text,
  };
  const other = stream === 'stdout' ? now.stderrBytes : now.stdoutBytes;
  if (other > 0) result.other_stream_bytes = other;
  if (notes.length > 0) result.clamped = notes;
  const hint = hintFor(now, body, from);
  if (hint) result.hint = hint;
  if (body.eof) ctx.reported(now);
  return result;
}
