import type { TaskRecord } from '../index.js';
import type { SeenState, ToolContext } from './context.js';
import { join, readPage, readTail, type Page, type Shaping } from './page.js';
import { charCost } from './readable.js';
import type { AgentExecutor, OutputView } from './types.js';

type Stream = 'stdout' | 'stderr';

/** An {@link OutputView} with the attempt it belongs to, whether the attempt's output is exhausted, and a tail preview it showed. */
export interface RenderedView extends OutputView {
  attempt: number;
  eof: boolean;
  /** Bytes passed over because an earlier result showed them (a tail preview). */
  skipped_bytes: number;
  /** The tail preview this view showed, `[start, end)`, for paging to pass over later. */
  shownTail?: { start: number; end: number };
}

// Smallest budget given to one stream of a preview.
const MIN_VIEW_CHARS = 256;

/** The omission marker placed between head and tail. */
export function omissionMarker(omitted: number, nextCursor: number): string {
  return `[… ${omitted} bytes omitted; next_cursor=${nextCursor}]`;
}

/** The marker where paging passes over bytes an earlier result showed. */
export function shownEarlierMarker(bytes: number): string {
  return `[… ${bytes} bytes shown earlier (the tail of a previous result) passed over]`;
}

function pageView(p: Page, truncated: boolean): RenderedView {
  return {
    text: p.text,
    cursor: p.cursor,
    next_cursor: p.nextCursor,
    total_bytes: p.totalBytes,
    omitted_bytes: 0,
    truncated,
    attempt: p.attempt,
    eof: p.eof,
    skipped_bytes: 0,
  };
}

/**
 * Renders a stream from `from` within `budget` characters. What fits is returned whole;
 * otherwise whole lines of the head (half the budget) and the latest whole lines of the tail
 * (none before `tailFloor`),
 * with {@link omissionMarker} between them. `next_cursor` is then the end of the head, so
 * following it visits the omitted bytes; the tail's range is returned as `shownTail` so that
 * paging can pass over it rather than send it twice.
 */
async function headAndTail(
  ex: AgentExecutor,
  id: string,
  stream: Stream,
  from: number,
  budget: number,
  how: Shaping,
  attempt?: number,
  tailFloor = 0,
): Promise<RenderedView> {
  const head = await readPage(ex, id, stream, from, Math.floor(budget / 2), how, undefined, attempt);
  if (head.nextCursor >= head.totalBytes) return pageView(head, false);
  const rest = await readPage(ex, id, stream, head.nextCursor, budget - head.cost, how, undefined, head.attempt);
  if (rest.nextCursor >= rest.totalBytes) {
    const text = join([head.text, rest.text]);
    return { ...pageView(rest, false), text, cursor: from };
  }
  const markerRoom = charCost(omissionMarker(rest.totalBytes, rest.totalBytes)) + 2;
  const tail = await readTail(ex, id, stream, Number.MAX_SAFE_INTEGER, Math.max(1, budget - head.cost - markerRoom), how, Math.max(head.nextCursor, tailFloor), head.attempt);
  if (tail.text === '' || tail.cursor < head.nextCursor) return pageView(head, true);
  const omitted = tail.cursor - head.nextCursor;
  const sep = head.text === '' || head.text.endsWith('\n') ? '' : '\n';
  return {
    text: `${head.text}${sep}${omissionMarker(omitted, head.nextCursor)}\n${tail.text}`,
    cursor: from,
    next_cursor: head.nextCursor,
    total_bytes: Math.max(tail.totalBytes, head.totalBytes),
    omitted_bytes: omitted,
    truncated: true,
    attempt: head.attempt,
    eof: false,
    skipped_bytes: 0,
    shownTail: { start: tail.cursor, end: tail.nextCursor },
  };
}

/**
 * A preview of what the model has not seen of a stream: like {@link headAndTail} from where it
 * stopped, except that a tail it was shown already is passed over (marked) instead of repeated.
 */
export async function renderPreview(ctx: ToolContext, id: string, stream: Stream, seen: SeenState, budget: number): Promise<RenderedView> {
  const how: Shaping = { readable: ctx.readable };
  const st = seen.shownTail;
  if (!st || seen.cursor >= st.start) return headAndTail(ctx.ex, id, stream, seen.cursor, budget, how, seen.attempt);
  const before = await readPage(ctx.ex, id, stream, seen.cursor, budget, how, st.start, seen.attempt);
  if (before.nextCursor < st.start) {
    // What lies before the shown tail does not fit. Output written after that tail matters more
    // (a task's last lines say how it ended): the head, then the newest lines. The old tail is
    // then in the omitted middle, and paging sends it again (a few lines).
    if (before.totalBytes > st.end) return headAndTail(ctx.ex, id, stream, seen.cursor, budget, how, seen.attempt, st.end);
    return pageView(before, true);
  }
  const marker = `${before.text === '' || before.text.endsWith('\n') ? '' : '\n'}${shownEarlierMarker(st.end - st.start)}\n`;
  const after = await headAndTail(ctx.ex, id, stream, st.end, Math.max(MIN_VIEW_CHARS, budget - before.cost - charCost(marker)), how, seen.attempt);
  return {
    ...after,
    text: before.text + marker + after.text,
    cursor: seen.cursor,
    skipped_bytes: st.end - st.start,
  };
}

/**
 * Renders what the model has not seen yet of both streams of a task, sharing `budget`
 * characters (stderr gets what stdout leaves, at least a quarter when both are large), and
 * remembers the new cursors. Streams with nothing unread are left out. Each stream is read
 * alone (no other read of it runs meanwhile), so nothing is shown twice.
 */
export async function renderUnread(ctx: ToolContext, record: TaskRecord, budget: number): Promise<{ stdout?: OutputView; stderr?: OutputView }> {
  if (record.attempt === 0) return {};
  const outLeft = Math.max(0, record.stdoutBytes - ctx.lastCursor(record, 'stdout'));
  const errLeft = Math.max(0, record.stderrBytes - ctx.lastCursor(record, 'stderr'));
  let errBudget = 0;
  if (errLeft > 0) errBudget = Math.max(MIN_VIEW_CHARS, Math.min(errLeft * 2, Math.max(Math.floor(budget / 4), budget - outLeft * 2)));
  const outBudget = Math.max(MIN_VIEW_CHARS, budget - errBudget);
  const result: { stdout?: OutputView; stderr?: OutputView } = {};
  const one = (stream: Stream, share: number): Promise<void> =>
    ctx.exclusive(record.id, stream, async () => {
      const seen = ctx.seen(record, stream);
      const v = await renderPreview(ctx, record.id, stream, seen, share);
      if (v.text === '' && v.next_cursor <= seen.cursor) return;
      ctx.remember(record.id, stream, v.attempt, v.next_cursor, v.shownTail);
      result[stream] = publicView(v);
    });
  await one('stdout', outBudget);
  if (errLeft > 0 || record.status === 'running') await one('stderr', Math.max(errBudget, MIN_VIEW_CHARS));
  return result;
}

// Characters a result may still add around its output: the hint, and per stream the view's
// numbers plus the header line of the plain-text form.
const HINT_RESERVE = 320;
const VIEW_RESERVE = 200;

/** Characters left for output in a result whose fields so far are `partial`. */
export function outputBudgetAfter(ctx: ToolContext, partial: object): number {
  return ctx.outputBudget(JSON.stringify(partial).length + HINT_RESERVE + 2 * VIEW_RESERVE);
}

/** The fields of a view a result carries. */
export function publicView(v: RenderedView): OutputView {
  return {
    text: v.text,
    cursor: v.cursor,
    next_cursor: v.next_cursor,
    total_bytes: v.total_bytes,
    omitted_bytes: v.omitted_bytes,
    truncated: v.truncated,
    ...(v.skipped_bytes > 0 ? { skipped_bytes: v.skipped_bytes } : {}),
  };
}
