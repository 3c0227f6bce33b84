import { Buffer } from 'node:buffer';
import type { OutputRead } from '../index.js';
import { charCost, readableText } from './readable.js';
import type { AgentExecutor } from './types.js';

type Stream = 'stdout' | 'stderr';

/** Raw bytes read per executor call. */
const CHUNK_BYTES = 256 * 1024;
/** Most raw bytes one page or tail scans (the cursor stops there; the next read goes on). */
export const SCAN_BYTES = 1024 * 1024;
// Chunks per page: SCAN_BYTES / CHUNK_BYTES, with room for short reads of a growing stream.
const MAX_CHUNKS = 16;

/** How raw output becomes text for the model. */
export interface Shaping {
  /** Strip ANSI escapes, collapse `\r` rewrites, mark control bytes ({@link readableText}). */
  readable: boolean;
}

/** Renders one raw piece of output as the model sees it. */
export function shape(raw: string, how: Shaping): string {
  return how.readable ? readableText(raw) : raw;
}

/** A contiguous slice of a stream, rendered within a character budget. */
export interface Page {
  /** The rendered text. */
  text: string;
  /** Its cost in characters ({@link charCost}). */
  cost: number;
  attempt: number;
  /** Byte offset where the slice starts. */
  cursor: number;
  /** Byte offset just past the slice. */
  nextCursor: number;
  totalBytes: number;
  /** The attempt has ended and the slice reaches its end. */
  eof: boolean;
  /** A line longer than the budget was cut (the rest follows at `nextCursor`). */
  cut: boolean;
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

/** Longest prefix of `raw` (in characters, never splitting a surrogate pair) whose rendering costs at most `room`. */
function fitPrefix(raw: string, room: number, how: Shaping): number {
  let lo = 0;
  let hi = raw.length;
  // Every character costs at least one unless shaping removes it, so `room` bounds a raw prefix.
  if (!how.readable) hi = Math.min(hi, room);
  for (let i = 0; i < 64 && lo < hi; i++) {
    const mid = Math.ceil((lo + hi) / 2);
    if (charCost(shape(raw.slice(0, mid), how)) <= room) lo = mid;
    else hi = mid - 1;
  }
  if (lo > 0 && lo < raw.length && /[\ud800-\udbff]/.test(raw[lo - 1]!)) lo--;
  return lo;
}

/**
 * The lines of `text[0, upTo)`, each with the index just past it; the last one lacks its
 * newline when `upTo` cuts it. The caller decides where `upTo` is (whole lines only, or a line
 * still being written).
 */
export function* linesUpTo(text: string, upTo: number): Generator<{ line: string; end: number }> {
  for (let at = 0; at < upTo; ) {
    const nl = text.indexOf('\n', at);
    const end = nl < 0 || nl >= upTo ? upTo : nl + 1;
    yield { line: text.slice(at, end), end };
    at = end;
  }
}

/** Joins rendered pieces, merging the control-byte markers of one run that spanned chunks. */
export function join(pieces: string[]): string {
  let text = pieces.join('');
  for (let i = 0; i < MAX_CHUNKS && /\[(\d+)×(\\x[0-9a-f]{2})\]\[(\d+)×\2\]/.test(text); i++) {
    text = text.replace(/\[(\d+)×(\\x[0-9a-f]{2})\]\[(\d+)×\2\]/g, (_m, a: string, hex: string, b: string) => `[${Number(a) + Number(b)}×${hex}]`);
  }
  return text;
}

/**
 * Reads whole lines from `from` and renders them until the next line would exceed `budget`
 * characters, `end` (an exclusive byte offset) is reached, or {@link SCAN_BYTES} were scanned.
 * A first line longer than the whole budget is cut (so a read always progresses). The cursor
 * moves exactly past what was rendered, so following `nextCursor` never skips a byte. A last
 * line still being written is included as it stands.
 */
export async function readPage(
  ex: AgentExecutor,
  id: string,
  stream: Stream,
  from: number,
  budget: number,
  how: Shaping,
  end?: number,
  attempt?: number,
): Promise<Page> {
  const pieces: string[] = [];
  let cost = 0;
  let pos = from;
  let total = 0;
  let eof = false;
  let cut = false;
  let full = false;
  for (let chunk = 0; chunk < MAX_CHUNKS && !full && pos - from < SCAN_BYTES; chunk++) {
    const limit = end === undefined ? CHUNK_BYTES : Math.min(CHUNK_BYTES, end - pos);
    if (limit <= 0) break;
    const r = await ex.readOutput(id, { stream, cursor: pos, maxBytes: limit, ...(attempt === undefined ? {} : { attempt }) });
    attempt = r.attempt;
    total = r.totalBytes;
    eof = r.eof;
    if (r.nextCursor <= pos) break;
    const text = r.text;
    // Whole lines only, unless nothing follows yet (a line being written) or one line fills the chunk.
    let upTo = text.lastIndexOf('\n') + 1;
    if (r.nextCursor >= r.totalBytes || upTo === 0) upTo = text.length;
    let consumed = 0;
    for (const { line: raw, end: lineEnd } of linesUpTo(text, upTo)) {
      const shown = shape(raw, how);
      const c = charCost(shown);
      if (cost + c <= budget) {
        pieces.push(shown);
        cost += c;
        consumed = lineEnd;
        continue;
      }
      full = true;
      if (pieces.length > 0) break;
      // One line longer than the budget: show what fits of it and continue mid-line next time.
      const k = Math.max(1, fitPrefix(raw, budget - cost, how));
      const lineStart = await byteCursorAfter(ex, id, r, consumed);
      if (Buffer.byteLength(text) === r.nextCursor - r.cursor) {
        const piece = shape(raw.slice(0, k), how);
        pieces.push(piece);
        cost += charCost(piece);
        pos = lineStart + Buffer.byteLength(raw.slice(0, k));
      } else {
        // Invalid UTF-8 (characters and bytes differ): k bytes hold at most k characters.
        const again = await ex.readOutput(id, { stream, cursor: lineStart, maxBytes: k, attempt: r.attempt });
        const piece = shape(again.text, how);
        pieces.push(piece);
        cost += charCost(piece);
        pos = again.nextCursor;
      }
      cut = true;
      consumed = -1;
      break;
    }
    if (consumed < 0) break;
    pos = await byteCursorAfter(ex, id, r, consumed);
    if (consumed < text.length || pos >= r.totalBytes) break;
  }
  const text = join(pieces);
  return {
    text,
    cost: charCost(text),
    attempt: attempt ?? 0,
    cursor: from,
    nextCursor: pos,
    // The stream's size as last read (a cursor past the end stays visible to the caller).
    totalBytes: total,
    eof: eof && pos >= total,
    cut,
  };
}

/** The last lines of a stream, rendered within a character budget. */
export interface Tail extends Page {
  /** Whole lines shown. */
  linesShown: number;
  /** Lines asked for. */
  linesRequested: number;
  /** Whole lines found within the scanned range (at most `linesRequested`). */
  linesAvailable: number;
}

/** Longest suffix of `raw` (in characters) whose rendering costs at most `room`. */
function fitSuffix(raw: string, room: number, how: Shaping): number {
  let lo = 0;
  let hi = how.readable ? raw.length : Math.min(raw.length, room);
  for (let i = 0; i < 64 && lo < hi; i++) {
    const mid = Math.ceil((lo + hi) / 2);
    if (charCost(shape(raw.slice(raw.length - mid), how)) <= room) lo = mid;
    else hi = mid - 1;
  }
  if (lo > 0 && lo < raw.length && /[\udc00-\udfff]/.test(raw[raw.length - lo]!)) lo--;
  return lo;
}

const CUT_MARKER = '[… line cut] ';

/**
 * The last `lines` lines of a stream, starting at a line boundary at or after `notBefore`,
 * keeping as many of the latest lines as `budget` characters hold. Only when the very last line
 * alone exceeds the budget is its end shown, after a `[… line cut]` marker.
 */
export async function readTail(
  ex: AgentExecutor,
  id: string,
  stream: Stream,
  lines: number,
  budget: number,
  how: Shaping,
  notBefore = 0,
  attempt?: number,
): Promise<Tail> {
  const first = await ex.readOutput(id, { stream, cursor: 0, maxBytes: 1, ...(attempt === undefined ? {} : { attempt }) });
  // Never reach before `notBefore`: the byte limit of the tail read keeps it out.
  const maxBytes = Math.max(1, Math.min(SCAN_BYTES, first.totalBytes - notBefore));
  const t = await ex.readOutput(id, { stream, tail: lines, maxBytes, attempt: first.attempt });
  const text = t.text;
  const parts: string[] = [];
  for (let i = 0; i < text.length; ) {
    const nl = text.indexOf('\n', i);
    const e = nl < 0 ? text.length : nl + 1;
    parts.push(text.slice(i, e));
    i = e;
  }
  // A read cut by its byte limit may begin inside a line: that partial line is not shown.
  let dropped = 0;
  if (t.truncated && t.cursor > 0 && parts.length > 0) {
    const before = await ex.readOutput(id, { stream, cursor: t.cursor - 1, maxBytes: 1, attempt: t.attempt });
    if (before.text !== '\n' && parts.length > 1) dropped = 1;
  }
  const available = parts.length - dropped;
  const shown: string[] = [];
  let cost = 0;
  for (let i = parts.length - 1; i >= dropped; i--) {
    const piece = shape(parts[i]!, how);
    const c = charCost(piece);
    if (cost + c > budget) break;
    shown.unshift(piece);
    cost += c;
  }
  let charStart = text.length;
  let cut = false;
  if (shown.length > 0) {
    charStart = parts.slice(0, parts.length - shown.length).reduce((n, p) => n + p.length, 0);
  } else if (available > 0) {
    // The last line alone is over the budget: show its end.
    const last = parts[parts.length - 1]!;
    const k = Math.max(1, fitSuffix(last, Math.max(1, budget - CUT_MARKER.length), how));
    shown.push(CUT_MARKER + shape(last.slice(last.length - k), how));
    charStart = text.length - k;
    cut = true;
  }
  let start = t.cursor;
  if (charStart > 0) {
    start =
      cut && Buffer.byteLength(text) !== t.nextCursor - t.cursor
        ? t.nextCursor - Buffer.byteLength(text.slice(charStart)) // invalid UTF-8 inside a cut line: an estimate
        : await byteCursorAfter(ex, id, t, charStart);
  }
  const out = join(shown);
  return {
    text: out,
    cost: charCost(out),
    attempt: t.attempt,
    cursor: start,
    nextCursor: t.nextCursor,
    totalBytes: t.totalBytes,
    eof: t.eof,
    cut,
    linesShown: cut ? 0 : shown.length,
    linesRequested: lines,
    linesAvailable: available,
  };
}
