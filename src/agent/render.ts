import { Buffer } from 'node:buffer';
import type { OutputRead, TaskRecord } from '../index.js';
import type { ToolContext } from './context.js';
import type { AgentExecutor, OutputView } from './types.js';

type Stream = 'stdout' | 'stderr';

/** An {@link OutputView} with the attempt it belongs to and whether the attempt's output is exhausted. */
export interface RenderedView extends OutputView {
  attempt: number;
  eof: boolean;
}

// Smallest budget given to one stream of a preview.
const MIN_VIEW_BYTES = 256;

/** The omission marker placed between head and tail. */
export function omissionMarker(omitted: number, nextCursor: number): string {
  return `[… ${omitted} bytes omitted; next_cursor=${nextCursor}]`;
}

/**
 * Byte offset just past the first `charIndex` characters of `read.text`. Exact: when the slice
 * held invalid UTF-8 (so characters and bytes do not correspond), `charIndex` must follow a
 * newline and the offset is found by re-reading that many lines.
 */
export async function byteCursorAfter(ex: AgentExecutor, id: string, read: OutputRead, charIndex: number): Promise<number> {
  if (charIndex >= read.text.length) return read.nextCursor;
  const prefix = read.text.slice(0, charIndex);
  if (Buffer.byteLength(read.text) === read.nextCursor - read.cursor) return read.cursor + Buffer.byteLength(prefix);
  let lines = 0;
  for (let i = prefix.indexOf('\n'); i >= 0; i = prefix.indexOf('\n', i + 1)) lines++;
  const again = await ex.readOutput(id, {
    stream: read.stream,
    attempt: read.attempt,
    cursor: read.cursor,
    head: lines,
    maxBytes: Math.max(1, read.nextCursor - read.cursor),
  });
  return again.nextCursor;
}

/**
 * Renders a stream from `cursor` within `budget` bytes. What fits is returned whole; otherwise
 * the first half of the budget (cut after a newline when one is near) and the last half (from
 * a line start) with {@link omissionMarker} between them. `next_cursor` is then the end of the
 * head, so reading on from it visits the omitted bytes: following `next_cursor` never skips
 * output. A cursor past the end is lowered to the end and noted.
 */
export async function renderView(
  ex: AgentExecutor,
  id: string,
  stream: Stream,
  cursor: number,
  budget: number,
  notes: string[] = [],
): Promise<RenderedView> {
  let r = await ex.readOutput(id, { stream, cursor, maxBytes: budget });
  if (cursor > r.totalBytes) {
    notes.push(`cursor=${cursor} is past the end of ${stream} (${r.totalBytes} bytes); used ${r.totalBytes}`);
    cursor = r.totalBytes;
    r = await ex.readOutput(id, { stream, cursor, maxBytes: budget, attempt: r.attempt });
  }
  const base = { attempt: r.attempt, cursor, total_bytes: r.totalBytes };
  if (r.totalBytes - cursor <= budget) {
    return { ...base, text: r.text, next_cursor: r.nextCursor, omitted_bytes: 0, truncated: r.truncated, eof: r.eof };
  }
  const headBudget = Math.floor(budget / 2);
  const head = await ex.readOutput(id, { stream, cursor, maxBytes: headBudget, attempt: r.attempt });
  let headText = head.text;
  let headEnd = head.nextCursor;
  const nl = headText.lastIndexOf('\n') + 1;
  if (nl > 0 && nl < headText.length && nl >= headText.length / 2) {
    headEnd = await byteCursorAfter(ex, id, head, nl);
    headText = headText.slice(0, nl);
  }
  const tail = await ex.readOutput(id, { stream, tail: Number.MAX_SAFE_INTEGER, maxBytes: budget - headBudget, attempt: r.attempt });
  let tailText = tail.text;
  let tailStart = tail.cursor;
  const first = tailText.indexOf('\n') + 1;
  if (tail.cursor > headEnd && first > 0 && first < tailText.length && first <= tailText.length / 2) {
    tailStart = await byteCursorAfter(ex, id, tail, first);
    tailText = tailText.slice(first);
  }
  if (tailStart < headEnd) {
    // Cannot happen with a growing stream; keep the invariant anyway.
    tailText = '';
    tailStart = headEnd;
  }
  const omitted = tailStart - headEnd;
  const sep = headText === '' || headText.endsWith('\n') ? '' : '\n';
  return {
    ...base,
    text: `${headText}${sep}${omissionMarker(omitted, headEnd)}\n${tailText}`,
    next_cursor: headEnd,
    total_bytes: Math.max(tail.totalBytes, r.totalBytes),
    omitted_bytes: omitted,
    truncated: true,
    eof: false,
  };
}

/**
 * Renders what the model has not seen yet of both streams of a task, sharing the output
 * budget (stderr gets what stdout leaves, at least a quarter when both are large), and
 * remembers the new cursors. Streams with nothing unread are left out.
 */
export async function renderUnread(ctx: ToolContext, record: TaskRecord): Promise<{ stdout?: OutputView; stderr?: OutputView }> {
  if (record.attempt === 0) return {};
  const outFrom = ctx.lastCursor(record, 'stdout');
  const errFrom = ctx.lastCursor(record, 'stderr');
  const outLeft = Math.max(0, record.stdoutBytes - outFrom);
  const errLeft = Math.max(0, record.stderrBytes - errFrom);
  const budget = ctx.maxOutputBytes;
  let errBudget = 0;
  if (errLeft > 0) errBudget = Math.max(MIN_VIEW_BYTES, Math.min(errLeft, Math.max(Math.floor(budget / 4), budget - outLeft)));
  const outBudget = Math.max(MIN_VIEW_BYTES, budget - errBudget);
  const result: { stdout?: OutputView; stderr?: OutputView } = {};
  const out = await renderView(ctx.ex, record.id, 'stdout', outFrom, outBudget);
  if (out.text !== '' || out.next_cursor > outFrom) {
    ctx.remember(record.id, 'stdout', out.attempt, out.next_cursor);
    result.stdout = strip(out);
  }
  if (errLeft > 0 || record.status === 'running') {
    const err = await renderView(ctx.ex, record.id, 'stderr', errFrom, Math.max(errBudget, MIN_VIEW_BYTES));
    if (err.text !== '' || err.next_cursor > errFrom) {
      ctx.remember(record.id, 'stderr', err.attempt, err.next_cursor);
      result.stderr = strip(err);
    }
  }
  return result;
}

function strip(v: RenderedView): OutputView {
  return {
    text: v.text,
    cursor: v.cursor,
    next_cursor: v.next_cursor,
    total_bytes: v.total_bytes,
    omitted_bytes: v.omitted_bytes,
    truncated: v.truncated,
  };
}
