import { isTerminal, type TaskRecord } from '../index.js';
import { clamp, fail, fromError, unknownTask, type ToolContext } from './context.js';
import { grepRead } from './grep.js';
import { compilePattern, matchingLines, PatternTooSlowError } from './pattern.js';
import { readPage, readTail, type Shaping } from './page.js';
import { shownEarlierMarker } from './render.js';
import { MAX_TAIL_LINES, maxReadChars, MIN_READ_CHARS } from './schemas.js';
import { endText, inputWantedHint } from './start.js';
import type { AgentToolError, BgReadResult } from './types.js';

/** Input of `bg_read` after validation. */
export interface ReadInput {
  task_id: string;
  cursor?: number;
  max_chars?: number;
  tail_lines?: number;
  grep?: string;
  stream?: 'stdout' | 'stderr';
  raw?: boolean;
}

type Body = Pick<
  BgReadResult,
  'attempt' | 'text' | 'cursor' | 'next_cursor' | 'total_bytes' | 'eof' | 'truncated' | 'omitted_bytes' | 'grep' | 'tail' | 'skipped_bytes'
>;

interface ReadPlan {
  input: ReadInput;
  stream: 'stdout' | 'stderr';
  budget: number;
  how: Shaping;
  re: RegExp | undefined;
  notes: string[];
}

async function tailBody(ctx: ToolContext, p: ReadPlan, from: number): Promise<Body> {
  const lines = clamp('tail_lines', p.input.tail_lines!, 1, MAX_TAIL_LINES, p.notes);
  const t = await readTail(ctx.ex, p.input.task_id, p.stream, lines, p.budget, p.how);
  let text = t.text;
  let grep: Body['grep'];
  if (p.re) {
    const all = text.split('\n');
    if (all[all.length - 1] === '') all.pop();
    const hits = new Set(matchingLines(p.re, all));
    const kept = all.filter((_l, i) => hits.has(i));
    text = kept.map((l) => `${l}\n`).join('');
    grep = { pattern: p.input.grep!, lines_read: all.length, lines_matched: kept.length, lines_filtered: all.length - kept.length };
  }
  return {
    attempt: t.attempt,
    text,
    cursor: t.cursor,
    next_cursor: t.nextCursor,
    total_bytes: t.totalBytes,
    eof: t.eof,
    truncated: false,
    omitted_bytes: Math.max(0, t.cursor - from),
    tail: { lines_requested: lines, lines_available: t.linesAvailable, lines_shown: t.linesShown },
    ...(grep ? { grep } : {}),
  };
}

async function pageBody(ctx: ToolContext, p: ReadPlan, record: TaskRecord, from: number, shownTail: { start: number; end: number } | undefined): Promise<Body> {
  const end = shownTail && from < shownTail.start ? shownTail.start : undefined;
  let page = await readPage(ctx.ex, record.id, p.stream, from, p.budget, p.how, end);
  if (from > page.totalBytes) {
    p.notes.push(`cursor=${from} is past the end of ${p.stream} (${page.totalBytes} bytes); used ${page.totalBytes}`);
    page = await readPage(ctx.ex, record.id, p.stream, page.totalBytes, p.budget, p.how, undefined, page.attempt);
  }
  let text = page.text;
  let next = page.nextCursor;
  let skipped = 0;
  if (shownTail && end !== undefined && next >= shownTail.start) {
    // The model has these bytes already (the tail of an earlier result): pass over them.
    skipped = shownTail.end - shownTail.start;
    next = shownTail.end;
    text += `${text === '' || text.endsWith('\n') ? '' : '\n'}${shownEarlierMarker(skipped)}\n`;
  }
  const total = Math.max(page.totalBytes, next);
  const now = ctx.ex.get(record.id) ?? record;
  const ended = page.eof || (isTerminal(now.status) && now.attempt === page.attempt);
  return {
    attempt: page.attempt,
    text,
    cursor: page.cursor,
    next_cursor: next,
    total_bytes: total,
    eof: ended && next >= total,
    truncated: next < total,
    omitted_bytes: 0,
    ...(skipped > 0 ? { skipped_bytes: skipped } : {}),
  };
}

function hintFor(record: TaskRecord, body: Body, from: number, budget: number): string | undefined {
  if (body.truncated) return `More output follows: call bg_read again (it continues at next_cursor=${body.next_cursor}).`;
  if (!isTerminal(record.status) && record.awaitingInput === true && body.tail === undefined) return inputWantedHint(record);
  if (body.tail) {
    const { lines_requested: asked, lines_available: found, lines_shown: shown } = body.tail;
    const fit = shown < Math.min(asked, found) ? `Showing the last ${shown} of ${asked} requested lines: no more fit the budget of ${budget} characters. ` : '';
    const before = body.omitted_bytes > 0 && body.grep === undefined ? `${body.omitted_bytes} earlier bytes were not shown (bg_read with cursor=${from} reads them). ` : '';
    if (fit || before) return `${fit}${before}`.trim();
  }
  if (body.truncated) return `More output follows: call bg_read again (it continues at next_cursor=${body.next_cursor}).`;
  if (body.eof && isTerminal(record.status)) return `End of output. The task ${endText(record)}.`;
  if (!isTerminal(record.status)) {
    return 'No more output yet. Do not poll: call bg_wait (until="pattern" to wait for a specific line) or end your turn; a completion notice will arrive.';
  }
  return undefined;
}

async function readBody(ctx: ToolContext, p: ReadPlan, record: TaskRecord, from: number, shownTail: { start: number; end: number } | undefined): Promise<Body> {
  if (p.input.tail_lines !== undefined) return tailBody(ctx, p, from);
  if (!p.re) return pageBody(ctx, p, record, from, shownTail);
  const g = await grepRead(ctx.ex, record.id, p.stream, from, p.budget, p.re, p.how);
  return {
    attempt: g.attempt,
    text: g.text,
    cursor: g.cursor,
    next_cursor: g.nextCursor,
    total_bytes: g.totalBytes,
    eof: g.eof,
    truncated: g.nextCursor < g.totalBytes,
    omitted_bytes: 0,
    grep: { pattern: p.input.grep!, lines_read: g.linesRead, lines_matched: g.linesMatched, lines_filtered: g.linesRead - g.linesMatched },
  };
}

/**
 * Handles `bg_read`: a page of whole lines from the cursor within the budget, a tail, or a grep
 * that never skips output. Reads of one task's stream run one at a time, so two calls without
 * a cursor never return the same bytes.
 */
export async function bgRead(ctx: ToolContext, input: ReadInput): Promise<BgReadResult | AgentToolError> {
  const record = ctx.own(input.task_id);
  if (!record) return unknownTask(input.task_id);
  const stream = input.stream ?? 'stdout';
  const notes: string[] = [];
  // The result repeats a grep pattern (up to 1000 characters): its room comes out of the output's.
  const most = maxReadChars(ctx.maxOutputChars - (input.grep === undefined ? 0 : JSON.stringify(input.grep).length));
  const budget = clamp('max_chars', input.max_chars ?? most, MIN_READ_CHARS, most, notes);
  let re: RegExp | undefined;
  if (input.grep !== undefined) {
    const compiled = compilePattern(input.grep);
    if (typeof compiled === 'string') return fail('invalid_input', `bg_read: grep is an ${compiled}. Fix it and call bg_read again.`);
    re = compiled;
  }
  const raw = input.raw === true;
  const plan: ReadPlan = { input, stream, budget, how: { readable: ctx.readable && !raw }, re, notes };
  return ctx.exclusive(record.id, stream, async () => {
    const current = ctx.ex.get(record.id) ?? record;
    const seen = ctx.seen(current, stream);
    const from = input.cursor === undefined ? seen.cursor : clamp('cursor', input.cursor, 0, Number.MAX_SAFE_INTEGER, notes);
    let body: Body;
    try {
      // A raw read returns the bytes as they are, also those a preview showed already.
      body = await readBody(ctx, plan, current, from, raw ? undefined : seen.shownTail);
    } catch (err) {
      if (err instanceof PatternTooSlowError) return fail('invalid_input', `bg_read: ${err.message}. Call bg_read again with it.`);
      return fromError(err, 'bg_read');
    }
    ctx.remember(record.id, stream, body.attempt, body.next_cursor);
    const now = ctx.ex.get(record.id) ?? current;
    const result: BgReadResult = {
      ok: true,
      task_id: record.id,
      status: now.status,
      ...(isTerminal(now.status) ? { exit_code: now.exitCode ?? null } : {}),
      stream,
      ...(!isTerminal(now.status) && now.awaitingInput === true ? { awaiting_input: true as const } : {}),
      attempt: body.attempt,
      cursor: body.cursor,
      next_cursor: body.next_cursor,
      total_bytes: body.total_bytes,
      eof: body.eof,
      truncated: body.truncated,
      omitted_bytes: body.omitted_bytes,
      ...(body.skipped_bytes ? { skipped_bytes: body.skipped_bytes } : {}),
      ...(body.tail ? { tail: body.tail } : {}),
      ...(body.grep ? { grep: body.grep } : {}),
      ...(raw ? { raw: true } : {}),
      text: body.text,
    };
    const other = stream === 'stdout' ? now.stderrBytes : now.stdoutBytes;
    if (other > 0) result.other_stream_bytes = other;
    if (notes.length > 0) result.clamped = notes;
    const hint = hintFor(now, body, from, budget);
    if (hint) result.hint = hint;
    if (body.eof) ctx.reported(now);
    return result;
  });
}
